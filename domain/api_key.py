"""An API key: a long random secret that stands for its account on API calls.

Only a hash of the secret is stored (the key itself is shown once, at creation); `prefix`
is its first characters, so a person can tell their keys apart in a list.

What can happen to a key: `Created`, `Used` (at most once a minute, for `last_used_at`),
`Revoked` — after which it authenticates nothing, and it cannot be revoked twice.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import NotFound, ValidationFailed

NAME_MAX = 100


def api_key_not_found() -> NotFound:
    """Unknown id and another account's id get this same answer: nothing tells them apart."""
    return NotFound("No API key with this id.")


class ApiKeyRevoked(NotFound):
    """A revoked key is gone as far as its owner can tell: not listed, not found."""


def clean_key_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= NAME_MAX:
        raise ValidationFailed(f"Give the key a name of 1 to {NAME_MAX} characters.", field="name")
    return name


class ApiKey(Aggregate):
    account_id: UUID
    name: str
    prefix: str
    key_hash: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @event("Created")
    def __init__(self, account_id: UUID, name: str, prefix: str, key_hash: str) -> None:
        self.account_id = account_id
        self.name = name
        self.prefix = prefix
        self.key_hash = key_hash
        self.last_used_at = None
        self.revoked_at = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @event("Used")
    def record_use(self, at: datetime) -> None:
        self.last_used_at = at

    @event("Revoked")
    def revoke(self, at: datetime) -> None:
        self.check_not_revoked()
        self.revoked_at = at

    def check_not_revoked(self) -> None:
        if self.revoked_at is not None:
            raise ApiKeyRevoked("This API key has been revoked.")
