"""`/dashboard/sites`: list, add, edit and archive sites — the API's struct checks and the
site services, so a form says what the API would (`invalid_site_url`, `site_exists`,
`site_limit_reached`, a field too long, …)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal
from api.bodies import as_struct
from api.consistency import settle
from api.dashboard.pages import page, set_nav
from api.dashboard.web_session import Form, redirect, require_page_user, session_form
from api.errors import ApiError, status_for
from api.html import render
from api.queries import ascii_int
from api.sites import CreateSiteIn, UpdateSiteIn, site_id_of
from domain import ids
from domain.errors import DomainError
from domain.services import sites
from domain.services.authentication import require_api_plan
from domain.site import SiteDetails, site_not_found
from projections.sites import get_site, list_sites

PAGE = 50


async def paid_user(request: Request) -> Principal:
    """Sites, jobs, backlinks and keys: the same plan rule as their API routes."""
    return require_api_plan(await require_page_user(request))


def _fields(form: Form) -> dict[str, Any]:
    """A site form as the API's JSON body: blank optional fields are null; keywords are
    comma-separated."""
    keywords = [k.strip() for k in form.get("keywords").split(",") if k.strip()]
    return {
        "url": form.get("url").strip(),
        "name": form.get("name").strip(),
        "description": form.text("description"),
        "category": form.text("category"),
        "keywords": keywords,
        "contact_email": form.text("contact_email"),
    }


def _values(row: Any) -> dict[str, Any]:
    """What a site's form shows for a read-model row."""
    return {
        "url": row.url,
        "name": row.name,
        "description": row.description or "",
        "category": row.category or "",
        "keywords": ", ".join(row.keywords),
        "contact_email": row.contact_email or "",
    }


def _form_values(form: Form) -> dict[str, Any]:
    return {
        k: form.get(k)
        for k in ("url", "name", "description", "category", "keywords", "contact_email")
    }


def _error_of(exc: DomainError | ApiError) -> tuple[int, str, str | None]:
    status = exc.status if isinstance(exc, ApiError) else status_for(exc)
    field = exc.field
    if field and field.startswith("keywords"):
        field = "keywords"  # the form has one keywords box
    return status, exc.details, field


async def _list_page(
    request: Request,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    error: DomainError | ApiError | None = None,
) -> Response:
    set_nav(request, "sites")
    before = request.query_params.get("before")
    cursor = ascii_int(before) if before else None
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_sites(
            conn, principal.account_id, status=None, limit=PAGE + 1, before=cursor
        )
    status, message, field = _error_of(error) if error else (200, None, None)
    notice = {"added": "Site added.", "archived": "Site archived.", "saved": "Site saved."}
    return render(
        request,
        "dashboard/sites.html",
        {
            "sites": [(ids.encode("site", r.id), r) for r in rows[:PAGE]],
            "older": rows[PAGE - 1].seq if len(rows) > PAGE else None,
            "values": values or _form_values(Form([])),
            "error": message,
            "error_field": field,
            "notice": notice.get(request.query_params.get("done", "")),
            "plan": principal.plan,
        },
        status=status,
    )


@page
async def index(request: Request) -> Response:
    return await _list_page(request, await paid_user(request))


@page
async def create(request: Request) -> Response:
    principal = await paid_user(request)
    form = await session_form(request, principal)
    try:
        body = as_struct(_fields(form), CreateSiteIn)
        details = msgspec.convert(body, SiteDetails, from_attributes=True)
        _, position = await sites.register_site(
            request.app.state.ports.sites,
            account_id=principal.account_id,
            plan=principal.plan,
            url=body.url,
            details=details,
            verify_landing_page=request.app.state.settings.verify_sites,
        )
    except (DomainError, ApiError) as exc:
        if not isinstance(exc, ApiError) and status_for(exc) in (401, 403, 404, 429):
            raise
        return await _list_page(request, principal, values=_form_values(form), error=exc)
    await settle(request, position)
    return redirect("/dashboard/sites?done=added")


async def _own_site(request: Request, principal: Principal) -> tuple[UUID, Any]:
    site_id = site_id_of(request)
    async with request.app.state.infra.read_pool.acquire() as conn:
        row = await get_site(conn, principal.account_id, site_id)
    if row is None:
        raise site_not_found()
    return site_id, row


def _edit_page(
    request: Request,
    site_id: UUID,
    row: Any,
    values: dict[str, Any],
    error: DomainError | ApiError | None = None,
) -> Response:
    set_nav(request, "sites")
    status, message, field = _error_of(error) if error else (200, None, None)
    return render(
        request,
        "dashboard/site_edit.html",
        {
            "site_id": ids.encode("site", site_id),
            "site": row,
            "values": values,
            "error": message,
            "error_field": field,
        },
        status=status,
    )


@page
async def edit_form(request: Request) -> Response:
    principal = await paid_user(request)
    site_id, row = await _own_site(request, principal)
    return _edit_page(request, site_id, row, _values(row))


@page
async def update(request: Request) -> Response:
    principal = await paid_user(request)
    site_id, row = await _own_site(request, principal)
    form = await session_form(request, principal)
    fields = _fields(form)
    fields.pop("url")  # a site's URL never changes (the form shows it read-only)
    try:
        body = as_struct(fields, UpdateSiteIn)
        changes = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}
        _, position = await sites.update_site(
            request.app.state.ports.sites,
            account_id=principal.account_id,
            site_id=site_id,
            changes=changes,
        )
    except (DomainError, ApiError) as exc:
        if not isinstance(exc, ApiError) and status_for(exc) in (401, 403, 404, 429):
            raise
        values = {**_form_values(form), "url": row.url}
        return _edit_page(request, site_id, row, values, exc)
    await settle(request, position)
    return redirect("/dashboard/sites?done=saved")


@page
async def archive(request: Request) -> Response:
    principal = await paid_user(request)
    site_id = site_id_of(request)
    await session_form(request, principal)
    _, position = await sites.archive_site(
        request.app.state.ports.sites, account_id=principal.account_id, site_id=site_id
    )
    await settle(request, position)
    return redirect("/dashboard/sites?done=archived")
