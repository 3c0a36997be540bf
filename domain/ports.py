"""Ports: the small interfaces that application services are written against.
`adapters/` implements them; entry points wire the real ones in at start-up."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)


class Repository(Protocol):
    async def get(self, aggregate_id: UUID, cls: type[A]) -> A:
        """Load an aggregate; raise `domain.errors.NotFound` if it has no events."""
        ...

    async def save(self, *aggregates: Aggregate) -> int:
        """Append the pending events of all aggregates atomically; return the highest
        notification id written (0 if nothing). Raise `ConcurrencyConflict` on a clash."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
