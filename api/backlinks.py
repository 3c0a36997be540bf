"""`GET /api/v1/backlinks`: discovered backlinks with their latest evidence, as JSON (one
page) or CSV (`Accept: text/csv` or `?format=csv`: every row that matches the filters,
streamed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.csv_export import cell, csv_stream, every_row, wants_csv
from api.pagination import paginate
from api.queries import BacklinksQuery, page_of, query_of
from api.rendering import json_response
from api.sites import site_filter
from domain import ids
from projections.backlinks import BacklinkView, list_backlinks
from projections.views import by_name


# the read model's view with public ids, and the common `created_at`/`updated_at` (a
# docstring would enter the OpenAPI schema)
class BacklinkOut(BacklinkView):
    id: str  # each overridden field keeps its place
    site_id: str
    job_id: str
    created_at: datetime
    updated_at: datetime


def render(row: BacklinkView) -> BacklinkOut:
    return by_name(
        BacklinkOut,
        row,
        id=ids.encode("bl", row.id),
        site_id=ids.encode("site", row.site_id),
        job_id=ids.encode("job", row.job_id),
        created_at=row.first_seen_at,
        updated_at=row.last_checked_at,
    )


#: a CSV row is the view itself: the JSON's created_at and updated_at repeat two of its dates
CSV_FIELDS = [f.encode_name for f in msgspec.structs.fields(BacklinkView)]


class BacklinkFilters(msgspec.Struct, frozen=True):
    account_id: UUID
    site_id: UUID | None
    status: str | None
    link_type: str | None


async def _filters(request: Request, account_id: UUID, query: BacklinksQuery) -> BacklinkFilters:
    site_id = await site_filter(request, account_id, query.site_id)
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


def _csv_row(row: BacklinkView) -> list[str]:
    out = render(row)
    return [cell(getattr(out, name)) for name in CSV_FIELDS]


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, BacklinksQuery)
    page = page_of(query)
    filters = await _filters(request, principal.account_id, query)
    pool = request.app.state.infra.read_pool
    if wants_csv(request):
        # an export is whole: `limit` and `cursor` page the JSON list only
        export = every_row(
            lambda limit, before: _rows(pool, filters, limit=limit, before=before),
            lambda row: row.seq,
            _csv_row,
        )
        return csv_stream(CSV_FIELDS, export, filename="backlinks.csv")
    rows = await _rows(pool, filters, limit=page.fetch, before=page.after)
    return json_response(paginate(rows, page, key=lambda r: r.seq, render=render))
