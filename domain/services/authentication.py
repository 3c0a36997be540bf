"""Who is calling: turn an access token or an API key into a `Principal`.

Everything that decides whether a credential still works is read from the event store
on each request — the session (revoked at logout or on refresh-token reuse), the key
(revoked), the account (its plan) — so a revocation or a plan change applies to the very
next request, in every web process, with no cache to invalidate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from domain.account import Account
from domain.api_key import ApiKey
from domain.auth_session import AuthSession
from domain.errors import (
    ConcurrencyConflict,
    InvalidApiKey,
    InvalidToken,
    NotFound,
    PlanRequired,
)
from domain.plans import Plan
from domain.ports import AuthPorts
from domain.unique_key import API_KEY_HASH, UniqueKey, unique_key_id

#: `last_used_at` of a key is recorded at most once per this many seconds
KEY_USE_RESOLUTION = 60


class Principal(msgspec.Struct, frozen=True):
    """The authenticated caller of one request."""

    account_id: UUID
    email: str
    plan: Plan
    via: Literal["jwt", "api_key"]
    #: the session (jwt) or the API key (api_key) that authenticated the request
    credential_id: UUID
    name: str | None
    created_at: datetime
    updated_at: datetime


def _principal(account: Account, via: Literal["jwt", "api_key"], credential: UUID) -> Principal:
    return Principal(
        account_id=account.id,
        email=account.email,
        plan=account.plan,
        via=via,
        credential_id=credential,
        name=account.name,
        created_at=account.created_on,
        updated_at=account.modified_on,
    )


async def authenticate_access_token(ports: AuthPorts, token: str) -> Principal:
    claims = ports.tokens.read(token, ports.clock.now())
    try:
        session = await ports.repository.get(claims.session_id, AuthSession)
    except NotFound:
        raise InvalidToken("This access token names no session.") from None
    if session.account_id != claims.account_id:
        raise InvalidToken("This access token is not valid.")
    if session.is_revoked:
        raise InvalidToken("This session has ended; sign in again.")
    session.check_not_expired(ports.clock.now())  # the session's end ends its access tokens
    account = await ports.repository.get(session.account_id, Account)
    return _principal(account, "jwt", session.id)


async def authenticate_api_key(ports: AuthPorts, key: str) -> Principal:
    if not ports.secrets.looks_like_api_key(key):
        raise InvalidApiKey("This API key is not valid.")
    try:
        lookup = await ports.repository.get(
            unique_key_id(API_KEY_HASH, ports.secrets.hash(key)), UniqueKey
        )
        api_key = await ports.repository.get(lookup.owner_id, ApiKey)
    except NotFound:
        raise InvalidApiKey("This API key is not valid.") from None
    if not api_key.is_active:
        raise InvalidApiKey("This API key has been revoked.")
    account = await ports.repository.get(api_key.account_id, Account)
    await _record_use(ports, api_key)
    return _principal(account, "api_key", api_key.id)


async def _record_use(ports: AuthPorts, api_key: ApiKey) -> None:
    """`last_used_at` is for people ("is this key still in use?"), so minute resolution is
    plenty: a Redis gate lets one request per key per minute append a `Used` event,
    instead of one write per request."""
    if not await ports.gate.first_in(f"api-key-used:{api_key.id.hex}", KEY_USE_RESOLUTION):
        return
    api_key.record_use(at=ports.clock.now())
    try:
        await ports.repository.save(api_key)
    except ConcurrencyConflict:
        pass  # revoked or used concurrently: either way nothing worth retrying


def require_api_plan(principal: Principal) -> Principal:
    if not principal.plan.api_access:
        raise PlanRequired(
            f"The {principal.plan.name} plan has no API access; upgrade to Pro or Agency "
            "to use this endpoint."
        )
    return principal
