"""`/dashboard/api-keys`: create (the secret is shown once, on the answer to the form),
list, revoke — the API-key services with their plan limit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal, auth_ports
from api.consistency import settle
from api.dashboard.pages import page, set_nav
from api.dashboard.site_pages import paid_user
from api.dashboard.web_session import redirect, session_form
from api.errors import status_for
from api.html import render
from api.public_ids import path_id
from domain import ids
from domain.api_key import NAME_MAX, api_key_not_found
from domain.errors import DomainError
from domain.services.api_keys import create_api_key, revoke_api_key
from projections.api_keys import list_api_keys

#: a plan allows at most a few dozen keys: one page shows them all
LIMIT = 200


async def _page(
    request: Request,
    principal: Principal,
    *,
    created: dict[str, str] | None = None,
    name: str = "",
    error: DomainError | None = None,
) -> Response:
    set_nav(request, "api-keys")
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_api_keys(conn, principal.account_id, limit=LIMIT, before=None)
    notice = {"revoked": "Key revoked: it no longer works."}
    return render(
        request,
        "dashboard/api_keys.html",
        {
            "keys": [(ids.encode("key", r.id), r) for r in rows],
            "created": created,
            "name": name,
            "error": error.details if error else None,
            "notice": notice.get(request.query_params.get("done", "")),
            "plan": principal.plan,
            "name_max": NAME_MAX,
        },
        status=status_for(error) if error else (201 if created else 200),
    )


@page
async def index(request: Request) -> Response:
    return await _page(request, await paid_user(request))


@page
async def create(request: Request) -> Response:
    principal = await paid_user(request)
    form = await session_form(request, principal)
    try:
        made = await create_api_key(auth_ports(request), principal.account_id, form.get("name"))
    except DomainError as exc:
        if status_for(exc) != 422:
            raise
        return await _page(request, principal, name=form.get("name"), error=exc)
    await settle(request, made.notification_id)
    created = {"name": made.api_key.name, "key": made.key}
    return await _page(request, principal, created=created)


@page
async def revoke(request: Request) -> Response:
    principal = await paid_user(request)
    await session_form(request, principal)
    key_id = path_id(request, "key", "key_id", api_key_not_found)
    await settle(request, await revoke_api_key(auth_ports(request), principal.account_id, key_id))
    return redirect("/dashboard/api-keys?done=revoked")
