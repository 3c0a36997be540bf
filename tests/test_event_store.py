"""The asyncpg event store: atomic multi-aggregate appends, optimistic concurrency,
gap-free notification order under concurrent writers, typed round trips, snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import StoredEvent

from adapters.event_store import PostgresEventStore
from adapters.repository import EventSourcedRepository
from domain.errors import ConcurrencyConflict, NotFound
from tests.counter import Counter, Tag


async def test_saving_two_aggregates_writes_both_in_one_append(infra):
    repo = infra.repository
    a, b = Counter("a", uuid.uuid4()), Counter("b", uuid.uuid4())
    b.increment(by=2, when=datetime.now(UTC))
    last = await repo.save(a, b)
    notes = await infra.store.notifications(0, 10)
    assert [n.originator_id for n in notes] == [a.id, b.id, b.id]
    assert last == notes[-1].id
    assert (await repo.get(b.id, Counter)).value == 2


async def test_events_round_trip_with_their_declared_types(infra):
    owner = uuid.uuid4()
    when = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    c = Counter("typed", owner)
    c.tag(Tag("x", when))
    await infra.repository.save(c)
    loaded = await infra.repository.get(c.id, Counter)
    assert loaded.owner == owner and isinstance(loaded.owner, uuid.UUID)
    assert loaded.tags == [Tag("x", when)]
    assert isinstance(loaded.created_on, datetime) and loaded.created_on.tzinfo is not None
    assert loaded.version == 2


async def test_version_clash_raises_conflict_and_writes_nothing(infra):
    repo = infra.repository
    c = Counter("clash", uuid.uuid4())
    await repo.save(c)
    first = await repo.get(c.id, Counter)
    second = await repo.get(c.id, Counter)
    other = Counter("innocent bystander", uuid.uuid4())
    first.increment(by=1, when=datetime.now(UTC))
    await repo.save(first)
    second.increment(by=5, when=datetime.now(UTC))
    with pytest.raises(ConcurrencyConflict):
        await repo.save(second, other)  # atomic: the bystander is not written either
    with pytest.raises(NotFound):
        await repo.get(other.id, Counter)
    assert (await repo.get(c.id, Counter)).value == 1


async def test_concurrent_appends_to_one_aggregate_let_exactly_one_win(infra):
    repo = infra.repository
    c = Counter("race", uuid.uuid4())
    await repo.save(c)
    copies = [await repo.get(c.id, Counter) for _ in range(10)]
    for copy in copies:
        copy.increment(by=1, when=datetime.now(UTC))
    results = await asyncio.gather(*(repo.save(x) for x in copies), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, ConcurrencyConflict) for r in results if isinstance(r, Exception))
    assert (await repo.get(c.id, Counter)).value == 1


async def test_separate_stores_appending_concurrently_leave_no_gap_a_reader_can_skip(
    infra, settings
):
    """8 writers on their own pools (as separate processes would be) while a reader tails
    the log: the reader sees every event exactly once and ids only ever increase."""
    from adapters.db import connect_pool

    pools = [await connect_pool(settings.database_url, max_size=2) for _ in range(8)]
    stores = [EventSourcedRepository(PostgresEventStore(p)) for p in pools]
    written: list[uuid.UUID] = []
    done = asyncio.Event()

    async def writer(repo: EventSourcedRepository) -> None:
        for _ in range(25):
            c = Counter("w", uuid.uuid4())
            c.increment(by=1, when=datetime.now(UTC))
            await repo.save(c)
            written.append(c.id)

    seen: list[int] = []

    async def reader() -> None:
        last = 0
        while True:
            finished = done.is_set()
            for n in await infra.store.notifications(last, 100):
                assert n.id > last
                seen.append(n.id)
                last = n.id
            if finished:
                return
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(r) for r in stores))
    done.set()
    await reading
    for p in pools:
        await p.close()
    assert len(seen) == len(set(seen)) == 8 * 25 * 2
    assert seen == sorted(seen)


async def test_reads_from_a_version_and_the_max_notification_id(infra):
    c = Counter("v", uuid.uuid4())
    for i in range(4):
        c.increment(by=i, when=datetime.now(UTC))
    last = await infra.repository.save(c)
    assert [e.originator_version for e in await infra.store.read(c.id, gt=2)] == [3, 4, 5]
    assert await infra.store.max_notification_id() == last
    assert (await infra.repository.get(c.id, Counter, version=3)).value == 0 + 1


async def test_snapshots_make_loading_independent_of_history_length(infra):
    repo = EventSourcedRepository(infra.store, default_interval=10)
    c = Counter("long", uuid.uuid4())
    await repo.save(c)
    for _ in range(34):
        c.increment(by=1, when=datetime.now(UTC))
        await repo.save(c)
    snap = await infra.store.latest_snapshot(c.id)
    assert snap is not None and snap.originator_version == 30
    loaded = await repo.get(c.id, Counter)
    assert loaded.value == 34 and loaded.version == 35
    # loading reads the snapshot plus only the events after it
    assert len(await infra.store.read(c.id, gt=snap.originator_version)) == 5
    # a snapshot is only a cache: the state equals a replay from the events alone
    replayed = await EventSourcedRepository(infra.store, default_interval=0).get(c.id, Counter)
    assert vars(replayed) == vars(loaded)


async def test_history_at_an_instant_starts_from_the_snapshot_below_it(infra):
    repo = EventSourcedRepository(infra.store, default_interval=10)
    plain = EventSourcedRepository(infra.store, default_interval=0)
    c = Counter("long", uuid.uuid4())
    await repo.save(c)
    for _ in range(34):
        c.increment(by=1, when=datetime.now(UTC))
        await repo.save(c)
    _, events = await plain.history(c.id, Counter, until=datetime.now(UTC))
    for event in events:
        moment = event.timestamp
        (at, history), (replayed, alone) = [
            await r.history(c.id, Counter, until=moment) for r in (repo, plain)
        ]
        assert vars(at) == vars(replayed) and at.version == event.originator_version
        assert [e.originator_version for e in history] == [e.originator_version for e in alone]
    # the state comes from the snapshot (a forged one shows), the events after it applied
    forged = await repo.get(c.id, Counter, version=30)
    forged.value = 1000
    await infra.pool.execute("DELETE FROM backlynk_snapshots WHERE originator_id = $1", c.id)
    await infra.store.put_snapshot(repo.mapper.to_stored_event(Snapshot.take(forged)))
    counter, _ = await repo.history(c.id, Counter, until=events[32].timestamp)
    assert counter.value == 1000 + 3 and counter.version == 33
    counter, _ = await repo.history(c.id, Counter, until=events[28].timestamp)
    assert counter.value == 28  # below the snapshot: from the events alone


async def test_unknown_aggregate_is_not_found(infra):
    with pytest.raises(NotFound):
        await infra.repository.get(uuid.uuid4(), Counter)


async def test_a_conflicting_batch_fails_alone_in_a_shared_flush(infra):
    """Three appends reach one flush (one statement): the batch that would overwrite an
    existing version fails whole, the others commit and get their ids in order."""
    store = infra.store
    taken = uuid.uuid4()
    await store.append([StoredEvent(taken, 1, "t", b"1")])
    fresh_a, fresh_b, bystander = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    before = await store.max_notification_id()
    results = await asyncio.gather(
        store.append([StoredEvent(fresh_a, 1, "t", b"a1"), StoredEvent(fresh_a, 2, "t", b"a2")]),
        # version 1 of `taken` exists: this batch, bystander included, writes nothing
        store.append([StoredEvent(bystander, 1, "t", b"x"), StoredEvent(taken, 1, "t", b"2")]),
        store.append([StoredEvent(fresh_b, 1, "t", b"b1")]),
        return_exceptions=True,
    )
    assert isinstance(results[1], ConcurrencyConflict)
    notes = await store.notifications(before, 10)
    assert [(n.originator_id, n.originator_version) for n in notes] == [
        (fresh_a, 1),
        (fresh_a, 2),
        (fresh_b, 1),
    ]
    assert results[0] == [notes[0].id, notes[1].id] and results[2] == [notes[2].id]
    assert await store.read(bystander) == []
    assert [e.state for e in await store.read(taken)] == [b"1"]


async def test_closing_the_store_gives_its_writer_connection_back(settings):
    from adapters.db import connect_pool

    pool = await connect_pool(settings.database_url, min_size=1, max_size=1)
    try:
        store = PostgresEventStore(pool, hold_connection_for=3600)
        await store.append([StoredEvent(uuid.uuid4(), 1, "t", b"")])
        await store.append([StoredEvent(uuid.uuid4(), 1, "t", b"")])  # same connection, kept
        assert pool.get_idle_size() == 0
        await store.close()
        assert pool.get_idle_size() == 1
        await store.append([StoredEvent(uuid.uuid4(), 1, "t", b"")])  # usable after close
        await store.close()
    finally:
        await pool.close()


async def test_a_writer_connection_ended_by_the_server_is_replaced(infra, settings):
    import asyncpg

    store = PostgresEventStore(infra.pool, hold_connection_for=3600)
    try:
        await store.append([StoredEvent(uuid.uuid4(), 1, "t", b"")])
        held = store._conn
        assert held is not None
        admin = await asyncpg.connect(settings.database_url)
        try:
            # with a timeout, pg_terminate_backend waits until the backend has exited:
            # without one it only signals it, and on a busy machine the backend could
            # still take (and then die in the middle of) the append that must succeed
            ended = await admin.fetchval(
                "SELECT pg_terminate_backend($1, 60000)", held.get_server_pid()
            )
            assert ended
        finally:
            await admin.close()
        with contextlib.suppress(Exception):  # the first try may meet the dead connection
            await store.append([StoredEvent(uuid.uuid4(), 1, "t", b"")])
        fresh = uuid.uuid4()
        assert len(await store.append([StoredEvent(fresh, 1, "t", b"")])) == 1
        assert [e.originator_id for e in await store.read(fresh)] == [fresh]
    finally:
        await store.close()


async def test_a_cancelled_flush_leaves_no_append_waiting(infra):
    """The loop closing cancels the flusher, even before it ran: its appends end
    (cancelled: their outcome is unknown) instead of waiting forever."""
    store = PostgresEventStore(infra.pool)
    appending = asyncio.ensure_future(store.append([StoredEvent(uuid.uuid4(), 1, "t", b"")]))
    await asyncio.sleep(0)  # the append is queued and its flusher created, not yet run
    assert store._flusher is not None
    store._flusher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await appending
    assert len(await store.append([StoredEvent(uuid.uuid4(), 1, "t", b"")])) == 1
    await store.close()
