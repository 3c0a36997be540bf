"""Sign-in use cases: register, login, refresh (rotation with reuse detection), logout.

A refresh token names its session and its generation (`ports.refresh_tokens` makes and
authenticates them): the session says which aggregate to load, the generation whether the
token is the current one, a spent one, or one never issued.

Nobody is signed in when these run, so each says who its request acts for
(`ports.callers`) before it saves: the account, the session it starts, refreshes or ends
(its id, never a token), and how the caller showed who they are — signing up, a password,
a refresh token. What they save records it as its cause (`domain.cause`).
"""

from __future__ import annotations

from uuid import UUID, uuid4

import msgspec

from domain.account import Account, email_key
from domain.auth_session import SESSION_LIFETIME, AuthSession
from domain.cause import Credential, Proof
from domain.errors import (
    ConcurrencyConflict,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    RefreshTokenReused,
    ValidationFailed,
)
from domain.plans import DEFAULT_PLAN
from domain.ports import AuthPorts
from domain.services.accounts import new_account, save_new_account
from domain.services.retry import on_conflict
from domain.unique_key import EMAIL, UniqueKey, unique_key_id


class SignedIn(msgspec.Struct, frozen=True):
    account: Account
    access_token: str
    refresh_token: str
    expires_in: int
    notification_id: int


def _start(ports: AuthPorts, account: Account, by: Proof) -> tuple[AuthSession, str]:
    """A new session for `account` (unsaved) and its first refresh token; the request
    acts for the account, through this session, as shown `by`."""
    session = AuthSession(
        account_id=account.id,
        expires_at=ports.clock.now() + SESSION_LIFETIME,
        id=uuid4(),
    )
    _acts_for(ports, session, by)
    return session, ports.refresh_tokens.issue(session.id, session.generation)


def _acts_for(ports: AuthPorts, session: AuthSession, by: Proof) -> None:
    ports.callers.identify(session.account_id, Credential.SESSION, session.id, by)


def _signed_in(
    ports: AuthPorts, account: Account, session_id: UUID, refresh_token: str, nid: int
) -> SignedIn:
    access = ports.tokens.issue(account.id, session_id, ports.clock.now())
    return SignedIn(account, access, refresh_token, ports.tokens.expires_in, nid)


async def register(ports: AuthPorts, email: str, password: str, name: str | None) -> SignedIn:
    """Self-service sign-up on the default plan; signed in at once. The account, its
    email claim and its first session commit together or not at all."""
    account, claim = await new_account(ports, email, password, name, DEFAULT_PLAN.code)
    session, token = _start(ports, account, Proof.SIGN_UP)
    nid = await save_new_account(ports, account, claim, session)
    return _signed_in(ports, account, session.id, token, nid)


async def login(ports: AuthPorts, email: str, password: str, client_ip: str) -> SignedIn:
    """Wrong email and wrong password are one answer, in one time: an unknown email still
    pays for a password verification."""
    try:
        key = email_key(email)
    except ValidationFailed:
        key = email.strip().casefold()  # unusable address: still throttled, still slow
    await ports.throttle.attempt(key, client_ip)  # counted before the password is checked
    account = await _account_for_login(ports, key)
    if account is None:
        await ports.passwords.verify_nothing(password)
        ok = False
    else:
        ok = await ports.passwords.verify(account.password_hash, password)
    if account is None or not ok:
        raise InvalidCredentials("The email or password is incorrect.")
    await ports.throttle.succeeded(key, client_ip)
    if ports.passwords.needs_rehash(account.password_hash):
        account.rehash_password(await ports.passwords.hash(password))
    session, token = _start(ports, account, Proof.PASSWORD)
    try:
        nid = await ports.repository.save(account, session)
    except ConcurrencyConflict:
        # the rehash is an optimisation; a concurrent change to the account must not
        # cost the user their sign-in
        account.collect_events()
        nid = await ports.repository.save(session)
    return _signed_in(ports, account, session.id, token, nid)


async def refresh(ports: AuthPorts, refresh_token: str) -> SignedIn:
    claims = ports.refresh_tokens.read(refresh_token)

    async def attempt() -> SignedIn:
        session = await _session(ports, claims.session_id)
        _acts_for(ports, session, Proof.REFRESH_TOKEN)
        now = ports.clock.now()
        if session.was_spent(claims.generation):
            if not session.is_revoked:
                session.revoke(at=now, because="refresh_token_reused")
                await ports.repository.save(session)
            raise RefreshTokenReused(
                "This refresh token was already used; the session has been revoked. Sign in again."
            )
        session.refresh(claims.generation, now)
        nid = await ports.repository.save(session)
        account = await ports.repository.get(session.account_id, Account)
        token = ports.refresh_tokens.issue(session.id, session.generation)
        return _signed_in(ports, account, session.id, token, nid)

    return await on_conflict(attempt)


async def logout(ports: AuthPorts, refresh_token: str) -> int:
    """End the session the token belongs to (any token of the session will do: ending a
    session is never a risk). Ending an ended session is a no-op."""
    claims = ports.refresh_tokens.read(refresh_token)

    async def attempt() -> int:
        session = await _session(ports, claims.session_id)
        if not session.issued(claims.generation):
            raise InvalidToken("This refresh token is not valid.", field="refresh_token")
        _acts_for(ports, session, Proof.REFRESH_TOKEN)
        if session.is_revoked:
            return 0
        session.revoke(at=ports.clock.now(), because="logout")
        return await ports.repository.save(session)

    return await on_conflict(attempt)


async def _session(ports: AuthPorts, session_id: UUID) -> AuthSession:
    try:
        return await ports.repository.get(session_id, AuthSession)
    except NotFound:
        raise InvalidToken("This refresh token is not valid.", field="refresh_token") from None


async def _account_for_login(ports: AuthPorts, key: str) -> Account | None:
    try:
        claim = await ports.repository.get(unique_key_id(EMAIL, key), UniqueKey)
    except NotFound:
        return None
    return await ports.repository.get(claim.owner_id, Account)
