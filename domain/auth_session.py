"""An AuthSession: one sign-in, and the generations of refresh tokens rotated from it.

Each refresh spends the current refresh token and issues the next generation's
(`Refreshed`). A spent token coming back means two parties hold the session — the
legitimate client and whoever copied a token — and we cannot tell which is which, so the
whole session is revoked: every refresh token, including the newest, and every access
token naming it.

A refresh token names its session and its generation, and is authenticated by the token
adapter, so the session needs no list of spent tokens: every generation below the
current one is spent. Its state stays the same size however often it is refreshed.

A session lives at most `SESSION_LIFETIME` from sign-in, however often it is refreshed.

Refused: refreshing a revoked session (`InvalidToken`), an expired one (`TokenExpired`),
a generation not issued yet (`InvalidToken`) or a spent one (`RefreshTokenReused`, after
the service has revoked the session).

Version 1 of this aggregate kept a hash of every spent refresh token. Its events
(`Started` with a `token_hash`, `Rotated`) and snapshots still load; the refresh tokens
they describe are no longer accepted (their holders sign in again), while the session
itself, its access tokens and its revocation hold as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate, no_cause
from domain.errors import InvalidToken, TokenExpired

#: a session ends this long after sign-in, however often it is refreshed
SESSION_LIFETIME = timedelta(days=30)


class AuthSession(Aggregate):
    class_version = 2

    account_id: UUID
    #: the refresh token in use is this generation's; every lower one has been spent
    generation: int
    #: sign-in + SESSION_LIFETIME; refreshing does not move it
    expires_at: datetime
    revoked_at: datetime | None
    revoked_because: str | None

    class Started(Aggregate.Created):
        class_version = 3
        account_id: UUID
        expires_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.pop("token_hash", None)  # version 1's first refresh token

        upcast_v2_v3 = staticmethod(no_cause)  # version 3 records its cause

    @event(Started)
    def __init__(self, id: UUID, account_id: UUID, expires_at: datetime) -> None:
        # `id` is chosen by the caller: it is part of the refresh token handed out
        self.account_id = account_id
        self.generation = 0
        self.expires_at = expires_at
        self.revoked_at = None
        self.revoked_because = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A version-1 snapshot: its token hashes name tokens no longer accepted."""
        state.pop("token_hash", None)
        state.pop("spent_hashes", None)
        state["generation"] = 0

    class Rotated(Aggregate.Event):
        """Version 1's refresh, kept so that its sessions still load. The session's end
        stays sign-in + SESSION_LIFETIME (version 1 moved it at each refresh)."""

        presented_hash: str
        new_hash: str
        now: datetime
        expires_at: datetime

        def apply(self, aggregate: Aggregate) -> None:
            pass

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def was_spent(self, generation: int) -> bool:
        return generation < self.generation

    def issued(self, generation: int) -> bool:
        """Whether a refresh token of this generation was ever handed out."""
        return 0 <= generation <= self.generation

    @event("Refreshed")
    def refresh(self, generation: int, now: datetime) -> None:
        self.check_not_revoked()
        self.check_is_current(generation)
        self.check_not_expired(now)
        self.generation = generation + 1

    @event("Revoked")
    def revoke(self, at: datetime, because: str) -> None:
        self.check_not_revoked()
        self.revoked_at = at
        self.revoked_because = because

    # -- invariants ---------------------------------------------------------------------

    def check_not_revoked(self) -> None:
        if self.is_revoked:
            raise InvalidToken("This session has ended; sign in again.")

    def check_is_current(self, generation: int) -> None:
        if generation != self.generation:
            raise InvalidToken("This refresh token is not valid.", field="refresh_token")

    def check_not_expired(self, now: datetime) -> None:
        if self.has_expired(now):
            raise TokenExpired(
                f"This session started more than {SESSION_LIFETIME.days} days ago; sign in again."
            )
