"""Sign in, register, sign out: the API's session use cases behind forms."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import auth_ports, client_ip
from api.bodies import as_struct
from api.consistency import settle
from api.dashboard.pages import page
from api.dashboard.web_session import (
    SESSION_COOKIE,
    SIGN_IN,
    VISITOR_COOKIE,
    Form,
    clear_cookie,
    redirect,
    require_page_user,
    safe_next,
    session_form,
    set_cookie,
    signed_in,
    start_session,
    visitor,
    visitor_csrf,
    visitor_form,
)
from api.errors import ApiError, status_for
from api.html import render
from api.limits import per_client, settings_of
from api.sessions import LoginIn, RegisterIn
from domain.account import PASSWORD_MAX, PASSWORD_MIN
from domain.errors import DomainError, RateLimited
from domain.services import sessions

VISITOR_MAX_AGE = 2 * 3600


def _form_page(
    request: Request,
    template: str,
    *,
    form: Form | None = None,
    error: DomainError | ApiError | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    """The sign-in or register form, with this visitor's CSRF token (a new visitor gets
    the cookie it is tied to), what was typed (never the password) and the error."""
    secret, new = visitor(request)
    request.state.csrf_token = visitor_csrf(request, secret)
    field = getattr(error, "field", None)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    response = render(
        request,
        template,
        {
            "email": form.get("email") if form else "",
            "name": form.get("name") if form else "",
            "next": safe_next(form.get("next") if form else request.query_params.get("next")),
            "error": error.details if error is not None else None,
            "error_field": field,
            "notice": notice,
            "password_rule": f"{PASSWORD_MIN} to {PASSWORD_MAX} characters.",
        },
        status=status,
        headers=headers,
    )
    if new:
        set_cookie(request, response, VISITOR_COOKIE, secret, VISITOR_MAX_AGE)
    return response


def _status(error: DomainError | ApiError) -> int:
    return error.status if isinstance(error, ApiError) else status_for(error)


@page
async def sign_in_form(request: Request) -> Response:
    if await signed_in(request):
        return redirect(safe_next(request.query_params.get("next")))
    notice = "You have signed out." if request.query_params.get("signed-out") else None
    return _form_page(request, "dashboard/sign_in.html", notice=notice)


@page
async def sign_in(request: Request) -> Response:
    form = await visitor_form(request)
    try:
        body = as_struct({"email": form.get("email"), "password": form.get("password")}, LoginIn)
        done = await sessions.login(
            auth_ports(request), body.email, body.password, client_ip(request)
        )
    except (DomainError, ApiError) as exc:
        return _form_page(
            request, "dashboard/sign_in.html", form=form, error=exc, status=_status(exc)
        )
    await settle(request, done.notification_id)
    response = redirect(safe_next(form.get("next")))
    start_session(request, response, done.refresh_token)
    return response


@page
async def register_form(request: Request) -> Response:
    if await signed_in(request):
        return redirect("/dashboard")
    return _form_page(request, "dashboard/register.html")


@page
async def register(request: Request) -> Response:
    form = await visitor_form(request)
    limit = settings_of(request).register_rate
    try:
        # the API's sign-up limit, in the same bucket: a form is no way around it
        await per_client(
            request,
            "register",
            limit=limit,
            window_s=3600,
            refusal=f"At most {limit} sign-ups per hour come from one network.",
        )
        body = as_struct(
            {
                "email": form.get("email"),
                "password": form.get("password"),
                "name": form.text("name"),
            },
            RegisterIn,
        )
        done = await sessions.register(auth_ports(request), body.email, body.password, body.name)
    except (DomainError, ApiError) as exc:
        return _form_page(
            request, "dashboard/register.html", form=form, error=exc, status=_status(exc)
        )
    await settle(request, done.notification_id)
    response = redirect("/dashboard?welcome=1")
    start_session(request, response, done.refresh_token)
    return response


@page
async def sign_out(request: Request) -> Response:
    principal = await require_page_user(request)
    await session_form(request, principal)
    token = request.cookies[SESSION_COOKIE]
    await settle(request, await sessions.logout(auth_ports(request), token))
    response = redirect(f"{SIGN_IN}?signed-out=1")
    clear_cookie(request, response, SESSION_COOKIE)
    return response
