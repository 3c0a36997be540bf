"""Index aggregates: a claim on a unique value (an email, an API key hash).

An event-sourced store has no UNIQUE constraint on aggregate state, but it has one on
(aggregate id, version). A `UniqueKey` gets a deterministic id — uuid5 of its kind and
value — so two claims on one value both try to write version 1 of the same aggregate,
and the event store lets exactly one through (the other gets `ConcurrencyConflict`).
Saved in the same atomic append as the aggregate it points to, the claim and the owner
exist together or not at all. The same id then serves as a lookup: value -> owner.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain import ids
from domain.aggregate import Aggregate

EMAIL = "email"
API_KEY_HASH = "api_key_hash"
#: the n-th backlink an account added to monitoring ("<account hex>:<n>")
MONITOR_SLOT = "monitor_slot"


def unique_key_id(kind: str, value: str) -> UUID:
    return ids.derived("unique-key", kind, value)


class UniqueKey(Aggregate):
    kind: str
    owner_id: UUID

    @classmethod
    def claim(cls, kind: str, value: str, owner_id: UUID) -> UniqueKey:
        return cls(id=unique_key_id(kind, value), kind=kind, owner_id=owner_id)

    @event("Claimed")
    def __init__(self, id: UUID, kind: str, owner_id: UUID) -> None:
        self.kind = kind
        self.owner_id = owner_id
