"""`GET /api/v1/backlinks`: discovered backlinks with their latest evidence, as JSON or
CSV (`Accept: text/csv` or `?format=csv`: the same rows; `X-Next-Cursor` continues)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.csv_export import cell, csv_response, wants_csv
from api.errors import ApiError
from api.pagination import page_request, paginate
from api.rendering import json_response
from domain import ids
from domain.backlink import LIVE, LOST
from domain.errors import NotFound
from projections.backlinks import BacklinkRow, list_backlinks

LINK_TYPES = ("dofollow", "nofollow", "ugc", "sponsored")


class BacklinkOut(msgspec.Struct):
    id: str
    site_id: str
    directory_id: int
    job_id: str
    source_url: str
    target_url: str | None
    anchor_text: str | None
    link_type: str | None
    rel_attributes: list[str]
    http_status: int | None
    indexable: bool
    status: str
    first_seen_at: datetime
    last_checked_at: datetime
    lost_at: datetime | None
    created_at: datetime
    updated_at: datetime


def render(row: BacklinkRow) -> BacklinkOut:
    return BacklinkOut(
        ids.encode("bl", row.id),
        ids.encode("site", row.site_id),
        row.directory_id,
        ids.encode("job", row.job_id),
        row.source_url,
        row.target_url,
        row.anchor_text,
        row.link_type,
        row.rel_attributes,
        row.http_status,
        row.indexable,
        row.status,
        row.first_seen_at,
        row.last_checked_at,
        row.lost_at,
        row.first_seen_at,
        row.last_checked_at,
    )


CSV_FIELDS = [f.encode_name for f in msgspec.structs.fields(BacklinkOut)][:15]


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in allowed:
        raise ApiError(
            422, "validation_failed", f"{name} is one of {', '.join(allowed)}.", field=name
        )
    return value


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    page = page_request(request)
    status = _choice(request, "status", (LIVE, LOST))
    link_type = _choice(request, "link_type", LINK_TYPES)
    site_id = None
    async with request.app.state.infra.read_pool.acquire() as conn:
        if "site_id" in request.query_params:
            site_id = ids.decode("site", request.query_params["site_id"])
            owned = site_id is not None and await conn.fetchval(
                "SELECT 1 FROM sites WHERE id = $1 AND account_id = $2",
                site_id,
                principal.account_id,
            )
            if not owned:
                raise NotFound("No site with this id.", field="site_id")
        rows = await list_backlinks(
            conn,
            principal.account_id,
            site_id=site_id,
            status=status,
            link_type=link_type,
            limit=page.fetch,
            before=page.after,
        )
    listed = paginate(rows, page, key=lambda r: r.seq, render=render)
    if not wants_csv(request):
        return json_response(listed)
    response = csv_response(
        CSV_FIELDS,
        ([cell(getattr(b, f)) for f in CSV_FIELDS] for b in listed.data),
        filename="backlinks.csv",
    )
    if listed.pagination.next_cursor:
        response.headers["X-Next-Cursor"] = listed.pagination.next_cursor
    return response
