"""Event-sourced repository: loads and saves `eventsourcing` aggregates through the
asyncpg event store, with snapshots so that loading stays O(1) in history length."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import Mapper, StoredEvent

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

    async def history(
        self, aggregate_id: UUID, cls: type[A], *, until: datetime
    ) -> tuple[A, list[Any]]:
        """`cls` as it stood at the instant `until`, and the events that made it so.

        Every event up to `until` is decoded: what the caller makes of the past (a read
        model's row) holds the instant of each change, which no snapshot keeps. But the
        state starts from the latest snapshot at or below the last of them (snapshots are
        keyed by version, not time), so only the events after it are applied: applying
        costs more than decoding (a job's task list is rebuilt by each task event)."""
        events = events_until(self.mapper, await self.store.read(aggregate_id), until)
        start: Aggregate | None = None
        interval = self.interval_for(cls)
        if interval and len(events) >= interval:  # fewer events: no snapshot was taken
            stored = await self.store.latest_snapshot(aggregate_id, lte=len(events))
            if stored is not None:
                start = self.mapper.to_domain_event(stored).mutate(None)
        return fold(events, cls, start), events

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


def events_until(mapper: Mapper, stored: Iterable[StoredEvent], until: datetime) -> list[Any]:
    """An aggregate's stored events (in version order) decoded, up to the last one
    recorded at or before `until`: the first later one ends the history, so a writer
    whose clock lagged cannot leave a gap in it."""
    events = []
    for s in stored:
        event = mapper.to_domain_event(s)
        if event.timestamp > until:
            break
        events.append(event)
    return events


def fold(events: list[Any], cls: type[A], start: Aggregate | None = None) -> A:
    """`events` (from version 1) applied to `start` (a snapshot's aggregate, or
    nothing), those it holds already skipped. NotFound when there is no `cls`."""
    aggregate = start
    for event in events[start.version if start else 0 :]:
        aggregate = event.mutate(aggregate)
    if aggregate is None or not isinstance(aggregate, cls):
        raise NotFound(f"No {cls.__name__} with this id then.")
    return aggregate
