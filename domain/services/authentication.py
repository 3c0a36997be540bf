"""Who is calling: turn an access token or an API key into a `Principal`.

What decides whether a credential still works — the session (revoked at logout or on
refresh-token reuse), the key (revoked), the account (its plan) — comes from
`ports.credentials`, which answers as the event store stands when the request arrived:
a revocation or a plan change applies to the very next request, in every web process.
`StoreCredentials` reads the event store each time; the web process puts a cache in
front of it that proves itself current on every request (`adapters.credential_cache`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from domain.account import Account
from domain.api_key import ApiKey
from domain.auth_session import SESSION_LIFETIME, AuthSession
from domain.cause import Credential, Proof
from domain.credentials import CredentialRecord
from domain.errors import (
    ConcurrencyConflict,
    InvalidApiKey,
    InvalidToken,
    NotFound,
    PlanRequired,
    TokenExpired,
)
from domain.plans import Plan, get_plan
from domain.ports import AuthPorts, Repository
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


def _principal(record: CredentialRecord) -> Principal:
    account = record.account
    return Principal(
        account_id=account.id,
        email=account.email,
        plan=get_plan(account.plan_code),
        via=record.via,
        credential_id=record.id,
        name=account.name,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


class StoreCredentials:
    """Implements `domain.ports.Credentials` straight from the event store (4–6 reads)."""

    def __init__(self, repository: Repository):
        self.repository = repository

    async def by_session(self, session_id: UUID) -> CredentialRecord | None:
        try:
            session = await self.repository.get(session_id, AuthSession)
        except NotFound:
            return None
        account = await self.repository.get(session.account_id, Account)
        return CredentialRecord.of_session(session, account)

    async def by_api_key_hash(self, key_hash: str) -> CredentialRecord | None:
        try:
            lookup = await self.repository.get(unique_key_id(API_KEY_HASH, key_hash), UniqueKey)
            api_key = await self.repository.get(lookup.owner_id, ApiKey)
        except NotFound:
            return None
        account = await self.repository.get(api_key.account_id, Account)
        return CredentialRecord.of_api_key(api_key, account)


async def authenticate_access_token(ports: AuthPorts, token: str) -> Principal:
    claims = ports.tokens.read(token, ports.clock.now())
    return await authenticate_session(ports, claims.session_id, claims.account_id)


async def authenticate_session(
    ports: AuthPorts, session_id: UUID, account_id: UUID | None = None
) -> Principal:
    """The caller of a session, if it is still on: what an access token naming it needs,
    and what the dashboard's session cookie needs (`account_id`: the one a token names)."""
    now = ports.clock.now()
    record = await ports.credentials.by_session(session_id)
    if record is None:
        raise InvalidToken("This access token names no session.")
    if account_id is not None and record.account.id != account_id:
        raise InvalidToken("This access token is not valid.")
    if record.revoked:
        raise InvalidToken("This session has ended; sign in again.")
    # the session's end ends its access tokens
    if record.expires_at is not None and now >= record.expires_at:
        raise TokenExpired(
            f"This session started more than {SESSION_LIFETIME.days} days ago; sign in again."
        )
    return _principal(record)


async def authenticate_api_key(ports: AuthPorts, key: str) -> Principal:
    if not ports.secrets.looks_like_api_key(key):
        raise InvalidApiKey("This API key is not valid.")
    record = await ports.credentials.by_api_key_hash(ports.secrets.hash(key))
    if record is None:
        raise InvalidApiKey("This API key is not valid.")
    if record.revoked:
        raise InvalidApiKey("This API key has been revoked.")
    # the key's `Used` event is saved here, before the route attributes the request
    ports.callers.identify(record.account.id, Credential.API_KEY, record.id, Proof.API_KEY)
    await _record_use(ports, record.id)
    return _principal(record)


async def _record_use(ports: AuthPorts, key_id: UUID) -> None:
    """`last_used_at` is for people ("is this key still in use?"), so minute resolution is
    plenty: a Redis gate lets one request per key per minute append a `Used` event,
    instead of one write per request."""
    if not await ports.gate.first_in(f"api-key-used:{key_id.hex}", KEY_USE_RESOLUTION):
        return
    try:
        api_key = await ports.repository.get(key_id, ApiKey)
    except NotFound:
        return
    if not api_key.is_active:
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
