"""`/dashboard`: the plan, this month's quota, the backlinks and the latest jobs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.dashboard.pages import page, set_nav
from api.dashboard.reads import account_usage, backlink_counts
from api.dashboard.views import job_summaries, site_names
from api.dashboard.web_session import require_page_user
from api.html import render
from projections.jobs import list_jobs

RECENT_JOBS = 5


@page
async def overview(request: Request) -> Response:
    principal = await require_page_user(request)
    set_nav(request, "overview")
    me = await account_usage(request, principal)
    async with request.app.state.infra.read_pool.acquire() as conn:
        counts = await backlink_counts(conn, principal.account_id)
        jobs = await list_jobs(
            conn, principal.account_id, status=None, site_id=None, limit=RECENT_JOBS, before=None
        )
        names = await site_names(conn, principal.account_id)
    return render(
        request,
        "dashboard/overview.html",
        {
            "me": me,
            "plan": principal.plan,
            "counts": counts,
            "jobs": job_summaries(jobs, names),
            "welcome": bool(request.query_params.get("welcome")),
        },
    )
