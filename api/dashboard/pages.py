"""What every dashboard page shares: its navigation, and one way to answer what a handler
raises — a page for people, never the API's JSON envelope."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.dashboard.web_session import CsrfRefused, SignInNeeded, sign_in_redirect
from api.errors import ApiError, status_for
from api.html import render
from domain.errors import (
    AuthenticationFailed,
    DomainError,
    NotFound,
    PlanRequired,
    RateLimited,
)

Handler = Callable[[Request], Awaitable[Response]]

NAV = (
    ("overview", "Overview", "/dashboard"),
    ("sites", "Sites", "/dashboard/sites"),
    ("new-job", "New job", "/dashboard/jobs/new"),
    ("jobs", "Jobs", "/dashboard/jobs"),
    ("backlinks", "Backlinks", "/dashboard/backlinks"),
    ("api-keys", "API keys", "/dashboard/api-keys"),
)


def set_nav(request: Request, current: str) -> None:
    request.state.nav = [
        {"label": label, "href": href, "current": key == current} for key, label, href in NAV
    ]


def error_page(
    request: Request,
    status: int,
    heading: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    return render(
        request,
        "error.html",
        {"heading": heading, "message": message, **extra},
        status=status,
        headers=headers,
    )


def not_found(request: Request) -> Response:
    return error_page(request, 404, "Not found", "There is nothing here, or it is not yours.")


def csrf_refused(request: Request) -> Response:
    return error_page(
        request,
        403,
        "This form was refused",
        "It did not carry this session's security token (it may have come from another "
        "site, or from a page opened before you last signed in). Nothing was changed. "
        "Go back, reload the page and try again.",
    )


def page(handler: Handler) -> Handler:
    """`handler`, with what it raises turned into a page: sign in again, 403, 404, 429."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except (SignInNeeded, AuthenticationFailed):
            return sign_in_redirect(request)
        except CsrfRefused:
            return csrf_refused(request)
        except NotFound:
            return not_found(request)
        except PlanRequired as exc:
            return error_page(request, 403, "Not on your plan", exc.details, upgrade=True)
        except RateLimited as exc:
            return error_page(
                request,
                429,
                "Too many attempts",
                exc.details,
                headers={"Retry-After": str(exc.retry_after)},
            )
        except DomainError as exc:
            return error_page(request, status_for(exc), "That did not work", exc.details)
        except ApiError as exc:
            # its headers too: a stream over the caps says when to try again (Retry-After)
            return error_page(
                request, exc.status, "That did not work", exc.details, headers=exc.headers
            )

    return endpoint
