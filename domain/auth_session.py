"""An AuthSession: one sign-in, and the family of refresh tokens rotated from it.

Each refresh spends the current refresh token and issues the next one (`Rotated`). A
spent token coming back means two parties hold the family — the legitimate client and
whoever copied a token — and we cannot tell which is which, so the whole session is
revoked: every refresh token, including the newest, and every access token naming it.

Only sha256 hashes of refresh tokens are kept (they are high-entropy secrets, so a fast
hash is enough); the spent ones are kept to recognise reuse.

Refused: rotating or using a revoked session (`InvalidToken`), an expired refresh token
(`TokenExpired`), a token that is not the current one (`InvalidToken`, or
`RefreshTokenReused` when it is a spent one — the service revokes first).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidToken, TokenExpired

#: a refresh token lives this long after it is issued; each rotation starts a new one
REFRESH_TOKEN_TTL = timedelta(days=30)


class AuthSession(Aggregate):
    account_id: UUID
    token_hash: str
    spent_hashes: list[str]
    expires_at: datetime
    revoked_at: datetime | None
    revoked_because: str | None

    @event("Started")
    def __init__(self, id: UUID, account_id: UUID, token_hash: str, expires_at: datetime) -> None:
        # `id` is chosen by the caller: it is part of the refresh token handed out
        self.account_id = account_id
        self.token_hash = token_hash
        self.spent_hashes = []
        self.expires_at = expires_at
        self.revoked_at = None
        self.revoked_because = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def was_spent(self, token_hash: str) -> bool:
        return token_hash in self.spent_hashes

    def belongs(self, token_hash: str) -> bool:
        return token_hash == self.token_hash or self.was_spent(token_hash)

    @event("Rotated")
    def rotate(
        self, presented_hash: str, new_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        self.check_not_revoked()
        self.check_is_current(presented_hash)
        self.check_not_expired(now)
        self.spent_hashes = [*self.spent_hashes, self.token_hash]
        self.token_hash = new_hash
        self.expires_at = expires_at

    @event("Revoked")
    def revoke(self, at: datetime, because: str) -> None:
        self.check_not_revoked()
        self.revoked_at = at
        self.revoked_because = because

    # -- invariants ---------------------------------------------------------------------

    def check_not_revoked(self) -> None:
        if self.is_revoked:
            raise InvalidToken("This session has ended; sign in again.")

    def check_is_current(self, token_hash: str) -> None:
        if token_hash != self.token_hash:
            raise InvalidToken("This refresh token is not valid.")

    def check_not_expired(self, now: datetime) -> None:
        if now >= self.expires_at:
            raise TokenExpired("This refresh token has expired; sign in again.")
