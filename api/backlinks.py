"""`/api/v1/backlinks`: the list of backlinks with their latest evidence, as JSON (one
page) or CSV (`Accept: text/csv` or `?format=csv`: every row that matches the filters,
streamed); one backlink with the history of its checks; adding a link to monitoring; and
asking for a re-check now (rate-limited per account by plan)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.bodies import read_json
from api.consistency import settle
from api.csv_export import cell, csv_stream, every_row, wants_csv
from api.limits import per_account
from api.pagination import paginate
from api.public_ids import field_id, path_id
from api.queries import BacklinksQuery, page_of, query_of
from api.rendering import json_response
from api.sites import site_filter
from domain import ids
from domain.backlink import Backlink, Change, backlink_not_found
from domain.services import monitored_links
from domain.site import site_not_found
from projections.backlink_checks import CheckView
from projections.backlinks import BacklinkView, backlink_with_checks, list_backlinks
from projections.views import by_name


# the read model's view with public ids, and the common `created_at`/`updated_at` (a
# docstring would enter the OpenAPI schema)
class BacklinkOut(BacklinkView):
    id: str  # each overridden field keeps its place
    site_id: str
    job_id: str | None
    created_at: datetime
    updated_at: datetime


def render(row: BacklinkView) -> BacklinkOut:
    return by_name(
        BacklinkOut,
        row,
        id=ids.encode("bl", row.id),
        site_id=ids.encode("site", row.site_id),
        job_id=ids.encode("job", row.job_id) if row.job_id else None,
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
    return await list_backlinks(
        pool,
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
    pool = request.app.state.infra.reads
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


# --- one backlink, its checks; adding one; a re-check now ------------------------------


class CheckOut(CheckView):
    changes: list[Change]  # typed for the document; the read model keeps plain objects


class BacklinkDetailOut(BacklinkOut):
    #: failed checks in a row (missing or unreachable) after the last check
    consecutive_failures: int
    #: the newest checks first, at most HISTORY_LIMIT of them
    checks: list[CheckOut]
    #: every check recorded (checks shows the newest HISTORY_LIMIT)
    checks_total: int


class AddBacklinkIn(msgspec.Struct):
    site_id: str
    source_url: str


class RecheckOut(msgspec.Struct):
    backlink_id: str
    #: false: a re-check was already queued in this window; this request changed nothing
    queued: bool
    #: from then on another request queues another re-check
    next_recheck_at: datetime
    details: str


def backlink_id_of(request: Request) -> UUID:
    return path_id(request, "bl", "backlink_id", backlink_not_found)


async def _detail(request: Request, account_id: UUID, backlink_id: UUID) -> BacklinkDetailOut:
    async with request.app.state.infra.read_pool.acquire() as conn:
        found = await backlink_with_checks(conn, account_id, backlink_id)
    if found is None:
        raise backlink_not_found()
    row, checks, total = found
    return by_name(
        BacklinkDetailOut,
        render(row),
        consecutive_failures=checks[0].failures if checks else 0,
        checks=[msgspec.convert(c, CheckOut, from_attributes=True) for c in checks],
        checks_total=total,
    )


async def show(request: Request) -> Response:
    principal = await require_api_access(request)
    return json_response(await _detail(request, principal.account_id, backlink_id_of(request)))


def _as_added(backlink: Backlink) -> BacklinkDetailOut:
    """An added backlink from its aggregate (the read model is still behind)."""
    view = by_name(
        BacklinkView,
        backlink.evidence,
        id=backlink.id,
        site_id=backlink.site_id,
        directory_id=None,
        job_id=None,
        status=backlink.status,
        first_seen_at=backlink.created_on,
        last_checked_at=backlink.created_on,
        lost_at=None,
    )
    return by_name(
        BacklinkDetailOut, render(view), consecutive_failures=0, checks=[], checks_total=0
    )


async def create(request: Request) -> Response:
    principal = await require_api_access(request)
    body = await read_json(request, AddBacklinkIn)
    site_id = field_id(body.site_id, "site", "site_id", site_not_found)
    backlink, position = await monitored_links.add_backlink(
        request.app.state.ports.monitoring,
        account_id=principal.account_id,
        plan=principal.plan,
        site_id=site_id,
        source_url=body.source_url,
    )
    if await settle(request, position):
        return json_response(await _detail(request, principal.account_id, backlink.id), 201)
    return json_response(_as_added(backlink), 201)


async def recheck(request: Request) -> Response:
    principal = await require_api_access(request)
    backlink_id = backlink_id_of(request)
    plan = principal.plan
    await per_account(
        request,
        principal.account_id,
        "recheck",
        limit=plan.rechecks_per_hour,
        window_s=3600,
        refusal=f"The {plan.name} plan allows {plan.rechecks_per_hour} re-checks per hour.",
    )
    asked = await monitored_links.request_recheck(
        request.app.state.ports.monitoring, principal.account_id, backlink_id
    )
    details = (
        "A worker fetches the page now; GET /api/v1/backlinks/{id} shows the check "
        "at the top of its history."
        if asked.queued
        else "A re-check of this backlink was already asked for in this window; it is "
        "queued or done (see GET /api/v1/backlinks/{id})."
    )
    out = RecheckOut(ids.encode("bl", backlink_id), asked.queued, asked.window_ends_at, details)
    return json_response(out, 202)
