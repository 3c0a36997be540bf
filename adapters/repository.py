"""Event-sourced repository: loads and saves `eventsourcing` aggregates through the
asyncpg event store, with snapshots so that loading stays O(1) in history length."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot

from adapters.causes import stamp
from adapters.event_store import PostgresEventStore
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from domain.errors import NotFound

A = TypeVar("A", bound=Aggregate)

DEFAULT_SNAPSHOT_INTERVAL = 50


class EventSourcedRepository:
    """Implements `domain.ports.Repository`.

    A snapshot is taken after a save that carries an aggregate across a multiple of its
    interval (`snapshot_intervals[cls]`, else `default_interval`; 0 disables). Snapshots
    are a cache: they are written after the events commit, and losing one costs only time.
    """

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        default_interval: int = DEFAULT_SNAPSHOT_INTERVAL,
        snapshot_intervals: Mapping[type[Aggregate], int] | None = None,
    ):
        self.store = store
        self.mapper = TypedMapper(MsgspecTranscoder())
        self.default_interval = default_interval
        self.snapshot_intervals = dict(snapshot_intervals or {})

    def interval_for(self, cls: type[Aggregate]) -> int:
        return self.snapshot_intervals.get(cls, self.default_interval)

    async def get(self, aggregate_id: UUID, cls: type[A], *, version: int | None = None) -> A:
        aggregate: Aggregate | None = None
        gt: int | None = None
        if self.interval_for(cls):
            stored = await self.store.latest_snapshot(aggregate_id, lte=version)
            if stored is not None:
                aggregate = self.mapper.to_domain_event(stored).mutate(None)
                gt = aggregate.version
        for stored in await self.store.read(aggregate_id, gt=gt, lte=version):
            aggregate = self.mapper.to_domain_event(stored).mutate(aggregate)
        if aggregate is None or not isinstance(aggregate, cls):
            raise NotFound(f"No {cls.__name__} with id {aggregate_id}.")
        return aggregate

    async def save(self, *aggregates: Aggregate) -> int:
        """Append every pending event of `aggregates` in one transaction."""
        pending = [(a, a.collect_events()) for a in aggregates]
        for _, events in pending:
            stamp(events)
        stored = [self.mapper.to_stored_event(e) for _, events in pending for e in events]
        if not stored:
            return 0
        try:
            ids = await self.store.append(stored)
        except Exception:
            # nothing was written: give the events back so a retry sees the same state
            for aggregate, events in pending:
                aggregate._pending_events[:0] = events
            raise
        for aggregate, events in pending:
            interval = self.interval_for(type(aggregate))
            if events and interval:
                before = events[0].originator_version - 1
                if aggregate.version // interval > before // interval:
                    snap = Snapshot.take(aggregate)
                    await self.store.put_snapshot(self.mapper.to_stored_event(snap))
        return max(ids)
