"""`/dashboard/jobs`: start a job (pick a site and directories, see its cost first), list
jobs, follow one live, cancel it. The job service decides everything: which directories a
plan may use, which are already submitted for the site (those cost nothing), whether the
quota allows it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal
from api.bodies import as_struct
from api.consistency import settle
from api.dashboard.pages import page, set_nav
from api.dashboard.reads import account_usage
from api.dashboard.site_pages import paid_user
from api.dashboard.views import job_summaries, job_summary, site_names
from api.dashboard.web_session import Form, redirect, session_form
from api.errors import ApiError, status_for
from api.html import render
from api.job_stream import open_stream
from api.jobs import CreateJobIn, job_id_of
from api.queries import JobsQuery, ascii_int, query_of
from domain import ids
from domain.directory import Directory
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.job import job_not_found
from domain.services import jobs
from domain.services.sites import get_site
from projections.backlinks import BacklinkRow
from projections.jobs import get_job, list_jobs
from projections.sites import list_sites
from projections.views import columns, convert

PAGE = 50
#: the list filters of the new-job page, kept across its review step
FILTERS = ("category", "min_dr", "link_type")


def _filters(source: Any) -> dict[str, str]:
    return {name: (source.get(name) or "").strip()[:100] for name in FILTERS}


def _shown(directories: list[Directory], filters: dict[str, str]) -> list[Directory]:
    """The directories the page lists: the plan's eligible ones, narrowed by the filters
    (a view of the list only: what a job may use is the service's decision)."""
    min_dr = ascii_int(filters["min_dr"])
    return [
        d
        for d in directories
        if (not filters["category"] or d.category == filters["category"])
        and (min_dr is None or d.domain_rating >= min_dr)
        and (not filters["link_type"] or d.link_type == filters["link_type"])
    ]


async def _new_job_page(
    request: Request,
    principal: Principal,
    *,
    site_param: str | None,
    filters: dict[str, str],
    selected: set[int] | None,
    error: DomainError | ApiError | None = None,
) -> Response:
    set_nav(request, "new-job")
    ports = request.app.state.ports
    eligible = await ports.listings.active_within(principal.plan.dr_cap)
    shown = _shown(eligible, filters)
    async with request.app.state.infra.read_pool.acquire() as conn:
        site_rows = await list_sites(
            conn, principal.account_id, status="active", limit=200, before=None
        )
    sites = [(ids.encode("site", r.id), r) for r in site_rows]
    site_id = ids.decode("site", site_param) if site_param else None
    if site_param and (site_id is None or site_id not in {r.id for r in site_rows}):
        raise NotFound("No site with this id.")
    # already submitted for this site: a job skips them, and they cost nothing
    fresh: set[int] = {d.id for d in shown}
    if site_id is not None:
        site = await get_site(ports.repository, principal.account_id, site_id)
        fresh = set(site.unclaimed([d.id for d in shown]))
    chosen = {d.id for d in shown} if selected is None else selected
    me = await account_usage(request, principal)
    status = 200
    message = None
    if error is not None:
        status = error.status if isinstance(error, ApiError) else status_for(error)
        message = error.details
    return render(
        request,
        "dashboard/job_new.html",
        {
            "site_options": [(public, f"{r.name} ({r.domain})") for public, r in sites],
            "site_param": site_param or "",
            "directories": [(d, d.id in fresh, d.id in chosen) for d in shown],
            "eligible_count": len(eligible),
            "category_options": [(c, c) for c in sorted({d.category for d in eligible})],
            "link_type_options": [(t, t) for t in sorted({d.link_type for d in eligible})],
            "filters": filters,
            "cost": len(chosen & fresh),
            "remaining": me.usage.remaining,
            "plan": principal.plan,
            "error": message,
        },
        status=status,
    )


@page
async def new_job_form(request: Request) -> Response:
    principal = await paid_user(request)
    return await _new_job_page(
        request,
        principal,
        site_param=request.query_params.get("site") or None,
        filters=_filters(request.query_params),
        selected=None,
    )


def _directory_ids(form: Form) -> list[Any]:
    """The ticked boxes as the API's `directory_ids`: digits as numbers, anything else as
    sent (the API's struct check then names it)."""
    return [int(v) if v.isascii() and v.isdigit() and len(v) < 12 else v for v in form.getlist("d")]


async def _as_asked(
    request: Request, principal: Principal, filters: dict[str, str], chosen: list[int] | None
) -> list[int] | None:
    """Every eligible directory ticked, unfiltered, is the API's "every directory not yet
    submitted to" (no `directory_ids`): no list to cap at 500, and no skipped tasks."""
    if chosen is None or any(filters.values()):
        return chosen
    eligible = await request.app.state.ports.listings.active_within(principal.plan.dr_cap)
    return None if set(chosen) == {d.id for d in eligible} else chosen


@page
async def create(request: Request) -> Response:
    principal = await paid_user(request)
    form = await session_form(request, principal)
    site_param = form.get("site").strip()
    filters = _filters(form)
    raw_ids = _directory_ids(form)
    selected = {i for i in raw_ids if isinstance(i, int)}

    async def again(error: DomainError | ApiError | None = None) -> Response:
        return await _new_job_page(
            request,
            principal,
            site_param=site_param or None,
            filters=filters,
            selected=selected,
            error=error,
        )

    if form.get("step") == "review":
        return await again()
    try:
        if not site_param:
            raise ValidationFailed("Pick a site.", field="site_id")
        if not raw_ids:
            raise ValidationFailed("Tick at least one directory.", field="directory_ids")
        body = as_struct({"site_id": site_param, "directory_ids": raw_ids}, CreateJobIn)
        site_id = ids.decode("site", body.site_id)
        if site_id is None:
            raise NotFound("No site with this id.")
        job, position = await jobs.create_job(
            request.app.state.ports.jobs,
            account_id=principal.account_id,
            plan=principal.plan,
            site_id=site_id,
            directory_ids=await _as_asked(request, principal, filters, body.directory_ids),
        )
    except (DomainError, ApiError) as exc:
        if isinstance(exc, NotFound) or (
            isinstance(exc, DomainError) and status_for(exc) in (401, 429)
        ):
            raise
        return await again(exc)
    await settle(request, position)
    return redirect(f"/dashboard/jobs/{ids.encode('job', job.id)}")


@page
async def index(request: Request) -> Response:
    principal = await paid_user(request)
    set_nav(request, "jobs")
    query = query_of(request, JobsQuery)
    before = request.query_params.get("before")
    cursor = ascii_int(before) if before else None
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_jobs(
            conn,
            principal.account_id,
            status=query.status,
            site_id=None,
            limit=PAGE + 1,
            before=cursor,
        )
        names = await site_names(conn, principal.account_id)
    return render(
        request,
        "dashboard/jobs.html",
        {
            "jobs": job_summaries(rows[:PAGE], names),
            "older": rows[PAGE - 1].seq if len(rows) > PAGE else None,
            "status": query.status or "",
        },
    )


async def _job(request: Request, principal: Principal) -> dict[str, Any]:
    """The job as the API shows it, its site's name, and each task's evidence."""
    job_id: UUID = job_id_of(request)
    async with request.app.state.infra.read_pool.acquire() as conn:
        row = await get_job(conn, principal.account_id, job_id)
        if row is None:
            raise job_not_found()
        names = await site_names(conn, principal.account_id)
        links = await conn.fetch(
            f"SELECT {columns(BacklinkRow)} FROM backlinks WHERE account_id = $1 AND job_id = $2",
            principal.account_id,
            job_id,
        )
    evidence = {b.directory_id: b for b in (convert(r, BacklinkRow) for r in links)}
    summary = job_summary(row, names)
    return {
        "s": summary,
        "tasks": [(t, evidence.get(t.directory_id)) for t in summary.job.tasks],
    }


@page
async def show(request: Request) -> Response:
    principal = await paid_user(request)
    set_nav(request, "jobs")
    context = await _job(request, principal)
    notice = {"canceled": "Cancel requested: pending submissions are stopped."}
    context["notice"] = notice.get(request.query_params.get("done", ""))
    context["error"] = None
    return render(request, "dashboard/job.html", context)


@page
async def progress(request: Request) -> Response:
    """The job's live part alone (the page's script swaps it in every few seconds)."""
    principal = await paid_user(request)
    return render(request, "dashboard/job_live.html", await _job(request, principal))


@page
async def stream(request: Request) -> Response:
    """The job's changes as Server-Sent Events for the page's script (which then fetches
    the live part): the API's job stream (`api.job_stream`), same feed and caps, for the
    cookie session's account. Signed out, the sign-in redirect; another account's job or
    a bad id, 404; over a cap, the error page (the script falls back to polling)."""
    principal = await paid_user(request)
    return await open_stream(request, principal.account_id, job_id_of(request))


@page
async def cancel(request: Request) -> Response:
    principal = await paid_user(request)
    job_id = job_id_of(request)
    await session_form(request, principal)
    try:
        _, position = await jobs.cancel_job(
            request.app.state.ports.jobs, account_id=principal.account_id, job_id=job_id
        )
    except DomainError as exc:
        if status_for(exc) != 409:
            raise
        set_nav(request, "jobs")
        context = await _job(request, principal)
        context.update(notice=None, error=exc.details)
        return render(request, "dashboard/job.html", context, status=409)
    await settle(request, position)
    return redirect(f"/dashboard/jobs/{ids.encode('job', job_id)}?done=canceled")
