"""Authentication for routes: who is calling, and may their plan use this endpoint.

Routes call one of two functions first thing:

* `await require_account(request) -> Principal` — any signed-in account (401 otherwise);
* `await require_api_access(request) -> Principal` — also 403 `plan_required` on a plan
  without API access (free).

Credentials are `Authorization: Bearer <access token>` or `x-api-key: bk_live_…`. When
both are sent they must name the same account (401 otherwise): a request is never
silently attributed to one of two identities. The result is kept on the request, so
calling either function twice costs nothing.

From then on, what the request saves names its caller, the credential's id and how the
caller showed who they are (`adapters.causes.identify`): an access token, an API key, or
— set by the dashboard (`attribute`) — its session cookie.
"""

from __future__ import annotations

from starlette.requests import Request

from adapters import causes
from domain.cause import Credential, Proof
from domain.errors import AuthenticationFailed, InvalidToken
from domain.ports import AuthPorts
from domain.services.authentication import (
    Principal,
    authenticate_access_token,
    authenticate_api_key,
    require_api_plan,
)

__all__ = [
    "Principal",
    "attribute",
    "auth_ports",
    "client_ip",
    "require_account",
    "require_api_access",
]


def auth_ports(request: Request) -> AuthPorts:
    return request.app.state.auth


def client_ip(request: Request) -> str:
    """The peer address; behind a proxy, uvicorn's proxy-headers support has already
    replaced it with the client's (only for proxies listed in FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else ""


def _bearer(header: str) -> str:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send the access token as `Authorization: Bearer <token>`.")
    return token.strip()


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """The first `authorization` and `x-api-key` headers, as `request.headers.get` gives
    them, in one pass over the request's headers (`Headers.get` makes one per name, and
    raises and catches a KeyError for the one that is absent)."""
    authorization = api_key = None
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
    return authorization, api_key


async def require_account(request: Request) -> Principal:
    # the request's state, read as the dict it is (`request.state` raises and catches an
    # AttributeError for a name not set yet)
    known = request.scope.get("state", {}).get("principal")
    if isinstance(known, Principal):
        _identify(known, request.state.identified_by)
        return known
    authorization, api_key = _credentials(request)
    if authorization is None and api_key is None:
        raise AuthenticationFailed(
            "Authenticate with `Authorization: Bearer <access token>` or `x-api-key`."
        )
    ports = auth_ports(request)
    found: list[Principal] = []
    if authorization is not None:
        found.append(await authenticate_access_token(ports, _bearer(authorization)))
    if api_key is not None:
        found.append(await authenticate_api_key(ports, api_key.strip()))
    if len({p.account_id for p in found}) > 1:
        raise InvalidToken("The access token and the API key belong to different accounts.")
    principal = found[0]
    # with both, the access token is named: its session is the caller's sign-in
    attribute(request, principal, Proof.ACCESS_TOKEN if authorization else Proof.API_KEY)
    return principal


def attribute(request: Request, principal: Principal, by: Proof) -> None:
    """`principal` is the request's caller, shown `by`: kept on the request, and from here
    on what it saves names them."""
    request.state.principal = principal
    request.state.identified_by = by
    _identify(principal, by)


def _identify(principal: Principal, by: Proof) -> None:
    credential = Credential.SESSION if principal.via == "jwt" else Credential.API_KEY
    causes.identify(principal.account_id, credential, principal.credential_id, by)


async def require_api_access(request: Request) -> Principal:
    return require_api_plan(await require_account(request))
