"""An event-sourced repository in process memory: `domain.ports.Repository` with the
semantics of `EventSourcedRepository` on the Postgres event store, for running the
application services without a database (their tests, where persistence is not what is
tested).

The same semantics: events are kept encoded, through the same mapper and transcoder, so
an aggregate loads exactly as it would from Postgres (state that does not round-trip
fails here too); a save appends the pending events of every aggregate at once or not at
all, and an (aggregate, version) that exists already is a `ConcurrencyConflict` that
writes nothing and leaves the aggregates' events pending; notification ids are gap-free
and a save returns the highest it wrote (0 for nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from adapters.causes import stamp
from adapters.repository import events_until, fold
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from domain.errors import ConcurrencyConflict, NotFound

A = TypeVar("A", bound=Aggregate)


class InMemoryRepository:
    """Implements `domain.ports.Repository`."""

    def __init__(self) -> None:
        self.mapper = TypedMapper(MsgspecTranscoder())
        self._events: dict[UUID, list[StoredEvent]] = {}
        #: the notification log: every stored event in commit order
        self.log: list[StoredEvent] = []

    @property
    def position(self) -> int:
        """The highest notification id written so far."""
        return len(self.log)

    async def get(self, aggregate_id: UUID, cls: type[A], *, version: int | None = None) -> A:
        aggregate: Aggregate | None = None
        for stored in self._events.get(aggregate_id, ()):
            if version is not None and stored.originator_version > version:
                break
            aggregate = self.mapper.to_domain_event(stored).mutate(aggregate)
        if aggregate is None or not isinstance(aggregate, cls):
            raise NotFound(f"No {cls.__name__} with id {aggregate_id}.")
        return aggregate

    async def history(
        self, aggregate_id: UUID, cls: type[A], *, until: datetime
    ) -> tuple[A, list[Any]]:
        events = events_until(self.mapper, self._events.get(aggregate_id, ()), until)
        return fold(events, cls), events

    async def save(self, *aggregates: Aggregate) -> int:
        """Append every pending event of `aggregates` at once."""
        pending = [(a, a.collect_events()) for a in aggregates]
        for _, events in pending:
            stamp(events)
        stored = [self.mapper.to_stored_event(e) for _, events in pending for e in events]
        if not stored:
            return 0
        keys = [(s.originator_id, s.originator_version) for s in stored]
        clash = len(set(keys)) != len(keys) or any(
            version <= self._last_version(aggregate_id) for aggregate_id, version in keys
        )
        if clash:
            # nothing was written: give the events back so a retry sees the same state
            for aggregate, events in pending:
                aggregate._pending_events[:0] = events
            raise ConcurrencyConflict("Another save appended to one of these aggregates first.")
        for s in stored:
            self._events.setdefault(s.originator_id, []).append(s)
            self.log.append(s)
        return self.position

    def _last_version(self, aggregate_id: UUID) -> int:
        history = self._events.get(aggregate_id)
        return history[-1].originator_version if history else 0
