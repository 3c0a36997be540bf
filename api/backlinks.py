"""`GET /api/v1/backlinks`: discovered backlinks with their latest evidence, as JSON (one
page) or CSV (`Accept: text/csv` or `?format=csv`: every row that matches the filters,
streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.csv_export import cell, csv_stream, wants_csv
from api.pagination import MAX_LIMIT, paginate
from api.queries import BacklinksQuery, page_of, query_of
from api.rendering import json_response
from domain import ids
from domain.errors import NotFound
from projections.backlinks import BacklinkRow, list_backlinks

#: rows per query of a CSV export
EXPORT_CHUNK = MAX_LIMIT


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


class BacklinkFilters(msgspec.Struct, frozen=True):
    account_id: UUID
    site_id: UUID | None
    status: str | None
    link_type: str | None


async def _filters(request: Request, account_id: UUID, query: BacklinksQuery) -> BacklinkFilters:
    site_id = None
    if query.site_id is not None:
        site_id = ids.decode("site", query.site_id)
        async with request.app.state.infra.read_pool.acquire() as conn:
            owned = site_id is not None and await conn.fetchval(
                "SELECT 1 FROM sites WHERE id = $1 AND account_id = $2",
                site_id,
                account_id,
            )
        if not owned:
            raise NotFound("No site with this id.", field="site_id")
    return BacklinkFilters(account_id, site_id, query.status, query.link_type)


async def _rows(pool: Any, f: BacklinkFilters, *, limit: int, before: int | None) -> list:
    async with pool.acquire() as conn:
        return await list_backlinks(
            conn,
            f.account_id,
            site_id=f.site_id,
            status=f.status,
            link_type=f.link_type,
            limit=limit,
            before=before,
        )


async def _every_row(pool: Any, f: BacklinkFilters) -> AsyncIterator[list[str]]:
    """Every matching backlink, newest first, read in keyset chunks: a connection is held
    for one chunk's query only, never while a slow client reads the download."""
    before = None
    while True:
        chunk = await _rows(pool, f, limit=EXPORT_CHUNK, before=before)
        for row in chunk:
            out = render(row)
            yield [cell(getattr(out, name)) for name in CSV_FIELDS]
        if len(chunk) < EXPORT_CHUNK:
            return
        before = chunk[-1].seq


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, BacklinksQuery)
    page = page_of(query)
    filters = await _filters(request, principal.account_id, query)
    pool = request.app.state.infra.read_pool
    if wants_csv(request):
        # an export is whole: `limit` and `cursor` page the JSON list only
        return csv_stream(CSV_FIELDS, _every_row(pool, filters), filename="backlinks.csv")
    rows = await _rows(pool, filters, limit=page.fetch, before=page.after)
    return json_response(paginate(rows, page, key=lambda r: r.seq, render=render))
