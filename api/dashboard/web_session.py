"""The dashboard's sign-in: a cookie session on the API's own sessions, and CSRF tokens.

Signing in (`domain.services.sessions.login` / `register`, the API's use cases with their
throttles) starts an `AuthSession`; the browser keeps that session's first refresh token
in an HttpOnly cookie. The token is MAC-signed by the server and names its session, and a
page authenticates it as an access token naming the same session is authenticated
(`authenticate_session`): a revoked session (sign out, token reuse) or one past its
lifetime sends the browser back to sign in, at once and in every web process. What a page
saves names that session, identified by the cookie (`api.auth.attribute`). Signing out
is the API's logout with that token. The cookie is never rotated: the dashboard does not
refresh, it asks for a new sign-in when the session ends.

Every form carries a CSRF token and every POST is checked before anything else is read:
signed in, the token is a MAC of the session id (it changes with each sign-in); signed
out (the sign-in and register forms), a MAC of a random value the browser holds in a
second cookie, so a third site cannot sign a visitor into its own account. A refusal is
a 403 page and changes nothing. The cookies are `SameSite=Lax` as a second line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.auth import Principal, attribute, auth_ports
from api.bodies import read_raw
from api.errors import ApiError
from domain.auth_session import SESSION_LIFETIME
from domain.cause import Proof
from domain.errors import AuthenticationFailed
from domain.services.authentication import authenticate_session

SESSION_COOKIE = "bk_session"
#: the signed-out visitor's CSRF secret (the sign-in and register forms)
VISITOR_COOKIE = "bk_visitor"
COOKIE_PATH = "/dashboard"
SIGN_IN = "/dashboard/sign-in"

#: the largest form is a job's directory list: every directory of the catalogue may be
#: ticked (all of them ask for "every directory", see `job_pages`), a few bytes each
MAX_FORM = 256 * 1024
MAX_FIELDS = 20_000


class SignInNeeded(Exception):
    """No session, or one that has ended: the page answers with a redirect to sign in."""


class CsrfRefused(Exception):
    """A POST without this session's (or visitor's) CSRF token: 403, nothing changed."""


def _key(request: Request) -> bytes:
    secret = request.app.state.settings.signing_secret
    return hmac.new(secret.encode(), b"backlynk dashboard csrf v1", hashlib.sha256).digest()


def _mac(request: Request, text: str) -> str:
    digest = hmac.new(_key(request), text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_csrf(request: Request, principal: Principal) -> str:
    return _mac(request, f"session:{principal.credential_id.hex}")


def visitor_csrf(request: Request, visitor: str) -> str:
    return _mac(request, f"visitor:{visitor}")


def _secure(request: Request) -> bool:
    """`Secure` everywhere but dev mode (plain http on loopback)."""
    return not request.app.state.settings.dev


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, secure=_secure(request), httponly=True, samesite="lax"
    )


def start_session(request: Request, response: Response, refresh_token: str) -> None:
    set_cookie(
        request, response, SESSION_COOKIE, refresh_token, int(SESSION_LIFETIME.total_seconds())
    )
    clear_cookie(request, response, VISITOR_COOKIE)


async def signed_in(request: Request) -> Principal | None:
    """The caller of the session cookie, or None (no cookie, a forged one, or a session
    that has ended). Events saved while handling the request name this caller."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    ports = auth_ports(request)
    try:
        claims = ports.refresh_tokens.read(token)
        principal = await authenticate_session(ports, claims.session_id)
    except AuthenticationFailed:
        return None
    attribute(request, principal, Proof.SESSION_COOKIE)  # the request's cause names them
    request.state.page_user = principal
    request.state.csrf_token = session_csrf(request, principal)
    return principal


async def require_page_user(request: Request) -> Principal:
    principal = await signed_in(request)
    if principal is None:
        raise SignInNeeded
    return principal


def visitor(request: Request) -> tuple[str, bool]:
    """The signed-out visitor's CSRF secret, and whether it is new (to be set)."""
    known = request.cookies.get(VISITOR_COOKIE, "")
    if 20 <= len(known) <= 100 and known.isascii():
        return known, False
    return secrets.token_urlsafe(32), True


class Form:
    """An `application/x-www-form-urlencoded` body, at most `MAX_FORM` bytes."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        found = [v for k, v in self.pairs if k == name]
        return found[-1] if found else default

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def text(self, name: str) -> str | None:
        """A text field trimmed; None when empty (an optional field left blank)."""
        value = self.get(name).strip()
        return value or None


async def read_form(request: Request) -> Form:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "Send the form as a web form.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_FORM:
        raise ApiError(413, "payload_too_large", "The form is too large.")
    raw = await read_raw(request)
    if len(raw) > MAX_FORM:
        raise ApiError(413, "payload_too_large", "The form is too large.")
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_request", "The form could not be read.") from None
    if any("\x00" in k or "\x00" in v for k, v in pairs):
        raise ApiError(400, "bad_request", "Text must not contain NUL (U+0000) characters.")
    return Form(pairs)


async def checked_form(request: Request, expected: str) -> Form:
    """The POSTed form, once its CSRF token is `expected` (CsrfRefused otherwise)."""
    try:
        form = await read_form(request)
    except ApiError:
        raise CsrfRefused from None  # not a form of ours: nothing of it is read
    given = form.get("csrf_token")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused
    return form


async def session_form(request: Request, principal: Principal) -> Form:
    return await checked_form(request, session_csrf(request, principal))


async def visitor_form(request: Request) -> Form:
    known = request.cookies.get(VISITOR_COOKIE, "")
    return await checked_form(request, visitor_csrf(request, known) if known else "")


def redirect(url: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303), so a reload never posts twice."""
    return RedirectResponse(url, status_code=303)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"{SIGN_IN}?{urlencode({'next': target})}", status_code=303)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a dashboard path only (never another site)."""
    if (
        value
        and value.startswith("/dashboard")
        and not value.startswith("//")
        and "\\" not in value
        and all(c.isprintable() for c in value)
    ):
        return value
    return "/dashboard"
