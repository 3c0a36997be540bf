"""`/dashboard/backlinks`: the account's backlinks with filters, their CSV (the API's own
export, byte for byte) and two charts: live backlinks by day, quota use by month."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from api import backlinks as backlinks_api
from api.dashboard.pages import page, set_nav
from api.dashboard.reads import live_backlinks_by_day, usage_by_month
from api.dashboard.site_pages import paid_user
from api.html import render
from api.queries import BacklinksQuery, ascii_int, query_of
from api.sites import site_filter
from domain import ids
from domain.backlink import LIVE, LOST
from domain.link_types import LINK_TYPES
from projections.backlinks import list_backlinks
from projections.sites import list_sites

PAGE = 50


@page
async def index(request: Request) -> Response:
    principal = await paid_user(request)
    set_nav(request, "backlinks")
    query = query_of(request, BacklinksQuery)  # the API's filters, its 422s
    site_id = await site_filter(request, principal.account_id, query.site_id)
    before = request.query_params.get("before")
    cursor = ascii_int(before) if before else None
    today = request.app.state.clock.now()
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_backlinks(
            conn,
            principal.account_id,
            site_id=site_id,
            status=query.status,
            link_type=query.link_type,
            limit=PAGE + 1,
            before=cursor,
        )
        sites = await list_sites(conn, principal.account_id, status=None, limit=200, before=None)
        by_day = await live_backlinks_by_day(conn, principal.account_id, site_id, today=today)
        by_month = await usage_by_month(conn, principal.account_id, today=today)
    names = {r.id: r.name for r in sites}
    filters = {
        "site_id": query.site_id or "",
        "status": query.status or "",
        "link_type": query.link_type or "",
    }
    csv_query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "dashboard/backlinks.html",
        {
            "links": [(backlinks_api.render(r), names.get(r.site_id, "")) for r in rows[:PAGE]],
            "older": rows[PAGE - 1].seq if len(rows) > PAGE else None,
            "filters": filters,
            "filter_query": csv_query,
            "site_options": [(ids.encode("site", r.id), r.name) for r in sites],
            "status_options": [(LIVE, LIVE), (LOST, LOST)],
            "link_type_options": [(t, t) for t in LINK_TYPES],
            "live_by_day": by_day,
            "used_by_month": [(m.period, m.used) for m in by_month],
            "months": by_month,
        },
    )


@page
async def csv(request: Request) -> Response:
    """`GET /api/v1/backlinks?format=csv` itself, for the signed-in account."""
    await paid_user(request)
    request.scope["query_string"] = (
        request.scope.get("query_string", b"") + b"&format=csv"
    ).lstrip(b"&")
    return await backlinks_api.index(Request(request.scope, request.receive))
