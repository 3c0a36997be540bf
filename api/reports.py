"""`GET /api/v1/reports/usage`, `/reports/directories` and `/reports/backlinks`: the
account's reports, from the `reports` read models (`projections.report_*`), read from the
read pool (`READ_DATABASE_URL`). Paid plans only, like the rest of the API (Free: 403
`plan_required`).

Each report is a list in the usual envelope (`?limit&cursor`, in the report's own order),
or, with `Accept: text/csv` or `?format=csv`, the whole report as CSV. A report is small
(its range is bounded by `domain.reports`; the directories report has a row per directory
of the catalogue at most), so it is computed whole and paged in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from adapters.directories import PostgresDirectoryCatalogue
from api.auth import require_api_access
from api.csv_export import cell, csv_stream, wants_csv
from api.pagination import paginate
from api.queries import (
    BacklinksReportQuery,
    DirectoriesReportQuery,
    UsageReportQuery,
    page_of,
    query_of,
)
from api.rendering import json_response
from api.sites import site_filter
from domain import ids
from domain.reports import bucket_range, month_range
from projections.report_backlinks import LinkBucket, backlinks_over_time
from projections.report_directories import DirectoryStats, directory_stats
from projections.report_usage import UsageRow, usage_by_month, usage_by_site
from projections.views import by_name

R = TypeVar("R")
#: a bucket's start as a cursor (with its offset: a naive time would not compare)
Start = Annotated[datetime, msgspec.Meta(tz=True)]
S = TypeVar("S", bound=msgspec.Struct)


class UsageOut(msgspec.Struct):
    #: the month ("YYYY-MM") with group_by=month; null with group_by=site
    period: str | None
    #: the site with group_by=site; null with group_by=month
    site_id: str | None
    #: units reserved by the jobs created in the group (one per task to submit)
    reserved: int
    #: units consumed by submissions
    used: int
    #: units given back (failed, canceled or expired tasks)
    released: int


class DirectoryReportOut(DirectoryStats):
    #: the directory's name in the catalogue (null once it is no longer there)
    directory_name: str | None


# the read model's bucket under the name /docs shows (a docstring would enter the schema)
class BacklinksBucketOut(LinkBucket):
    pass


def _usage(row: UsageRow) -> UsageOut:
    site = ids.encode("site", row.site_id) if row.site_id else None
    return by_name(UsageOut, row, site_id=site)


def csv_header(shape: type[msgspec.Struct]) -> list[str]:
    return [f.encode_name for f in msgspec.structs.fields(shape)]


def _cell(value: Any) -> str:
    if isinstance(value, dict):  # failed_by_code: "code:count" pairs, by code
        return cell(" ".join(f"{k}:{v}" for k, v in sorted(value.items())))
    return cell(value)


def csv_cells(row: msgspec.Struct) -> list[str]:
    """A report row as CSV cells, in its fields' order (the CLI's `--csv` too)."""
    return [_cell(getattr(row, name)) for name in row.__struct_fields__]


async def _rows(rows: Sequence[msgspec.Struct]) -> AsyncIterator[list[str]]:
    for row in rows:
        yield csv_cells(row)


def _answer(
    request: Request,
    rows: Sequence[R],
    render: Callable[[R], S],
    shape: type[S],
    *,
    query: Any,
    key: Callable[[R], Any],
    key_type: Any,
    filename: str,
) -> Response:
    """The whole report as CSV, or one page of it as JSON (rows past the cursor's key)."""
    if wants_csv(request):
        return csv_stream(csv_header(shape), _rows([render(r) for r in rows]), filename=filename)
    page = page_of(query, key_type)
    shown = [r for r in rows if page.after is None or key(r) > page.after][: page.fetch]
    return json_response(paginate(shown, page, key=key, render=render))


def _now(request: Request) -> datetime:
    return request.app.state.clock.now()


async def usage(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, UsageReportQuery)
    first, last = month_range(query.since, query.until, _now(request))
    by_site = query.group_by == "site"
    report = usage_by_site if by_site else usage_by_month
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await report(conn, principal.account_id, first, last)
    key: Callable[[UsageRow], str] = (
        (lambda r: str(r.site_id)) if by_site else (lambda r: str(r.period))
    )
    return _answer(
        request, rows, _usage, UsageOut, query=query, key=key, key_type=str, filename="usage.csv"
    )


async def directories(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, DirectoriesReportQuery)
    site_id = await site_filter(request, principal.account_id, query.site_id)
    pool = request.app.state.infra.read_pool
    async with pool.acquire() as conn:
        rows = await directory_stats(conn, account_id=principal.account_id, site_id=site_id)
    named = await with_names(pool, rows)
    return _answer(
        request,
        named,
        lambda r: r,
        DirectoryReportOut,
        query=query,
        key=lambda r: r.directory_id,
        key_type=int,
        filename="directories.csv",
    )


async def with_names(pool: Any, rows: list[DirectoryStats]) -> list[DirectoryReportOut]:
    """The rows with each directory's name from the catalogue (the API's report and the
    operator's `backlynk reports directories`)."""
    found = await PostgresDirectoryCatalogue(pool).by_ids([r.directory_id for r in rows])
    return [
        by_name(
            DirectoryReportOut,
            r,
            directory_name=d.name if (d := found.get(r.directory_id)) else None,
        )
        for r in rows
    ]


async def backlinks(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, BacklinksReportQuery)
    interval = query.interval or "day"
    since, until = bucket_range(interval, query.since, query.until, _now(request))
    site_id: UUID | None = await site_filter(request, principal.account_id, query.site_id)
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await backlinks_over_time(
            conn, principal.account_id, site_id, interval, since, until
        )
    return _answer(
        request,
        rows,
        lambda r: by_name(BacklinksBucketOut, r),
        BacklinksBucketOut,
        query=query,
        key=lambda r: r.start,
        key_type=Start,
        filename="backlinks-report.csv",
    )
