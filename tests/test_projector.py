"""The projector: exactly-once effects whatever the moment it dies, no event missed under
concurrent appenders, rebuild equal to live, one runner per projection at a time, and a
standby process that takes over within the documented 5 s of a kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from adapters.repository import EventSourcedRepository
from projections.base import tracking_ddl
from projections.runner import (
    CannotApply,
    ProjectorRunner,
    catch_up,
    lock_key,
    position,
    rebuild,
    reset,
    wait_for,
)
from tests.counter import Counter, Tag
from tests.counter_projection import (
    GATE,
    BatchedCounterProjection,
    CounterProjection,
    snapshot_tables,
)
from tests.workers_support import eventually

PROJECTION = CounterProjection()
WAIT = 60.0  # generous: the machine may be busy; nothing here is timed but the takeover
TAKEOVER = 5.0  # the guarantee (README, Processes): a standby applies within 5 s of a kill


@pytest.fixture
async def conn(infra, settings):
    c = await asyncpg.connect(settings.database_url)
    for statement in (*PROJECTION.ddl, *tracking_ddl(PROJECTION)):
        await c.execute(statement)
    await reset(c, PROJECTION)
    yield c
    await c.close()


async def write_counters(repo: EventSourcedRepository, n: int, increments: int) -> dict:
    expected = {}
    for i in range(n):
        c = Counter(f"c{i}", uuid.uuid4())
        await repo.save(c)
        for k in range(increments):
            c.increment(by=k + 1, when=datetime.now(UTC))
            await repo.save(c)
        expected[c.id] = c.value
    return expected


class Killed(BaseException):
    """The process dies: no handler of the runner gets to run (hence not an Exception)."""


class DyingConnection:
    """Proxy that 'kills the process' (raises, then drops the connection) at statement k,
    counting every query and the commit of each transaction."""

    def __init__(self, conn: asyncpg.Connection, k: int):
        self._conn, self._k, self.count = conn, k, 0

    def _tick(self) -> None:
        self.count += 1
        if self.count == self._k:
            raise Killed(self._k)

    def __getattr__(self, name):
        attr = getattr(self._conn, name)
        if name in {"execute", "fetch", "fetchval", "fetchrow"}:

            async def counted(*args, **kwargs):
                self._tick()
                return await attr(*args, **kwargs)

            return counted
        return attr

    def transaction(self):
        proxy, tx = self, self._conn.transaction()

        class CountedTransaction:
            async def __aenter__(self):
                return await tx.__aenter__()

            async def __aexit__(self, et, exc, tb):
                if et is None:
                    try:
                        proxy._tick()  # dying just before COMMIT
                    except Killed as killed:
                        await tx.__aexit__(Killed, killed, None)
                        raise
                return await tx.__aexit__(et, exc, tb)

        return CountedTransaction()


@pytest.mark.parametrize(
    "projection", [CounterProjection(), BatchedCounterProjection()], ids=["per_event", "batched"]
)
async def test_killing_the_runner_between_any_two_statements_loses_and_repeats_nothing(
    conn, infra, settings, projection
):
    await write_counters(infra.repository, n=3, increments=4)
    await rebuild(conn, infra.store, projection, batch_size=4)
    reference = await snapshot_tables(conn)
    assert len(reference[1]) == 15

    k = 1
    while True:
        await reset(conn, projection)
        victim = await asyncpg.connect(settings.database_url)
        dying = DyingConnection(victim, k)
        try:
            await catch_up(dying, infra.store, projection, batch_size=4)
            died = False
        except Killed:
            died = True
        finally:
            victim.terminate()  # the process is gone: no commit, no cleanup
        restarted = await asyncpg.connect(settings.database_url)
        try:
            await catch_up(restarted, infra.store, projection, batch_size=4)
            assert await snapshot_tables(restarted) == reference, f"killed at statement {k}"
        finally:
            await restarted.close()
        if not died:
            break
        k += 1
    assert k > 20  # every statement of every batch was a kill point


async def test_eight_concurrent_appenders_while_the_projector_runs(conn, infra, settings):
    runner = ProjectorRunner(
        settings.database_url, infra.store, [PROJECTION], batch_size=13, poll_interval=0.05
    )
    await runner.start()
    pools = [await connect_pool(settings.database_url, max_size=2) for _ in range(8)]
    try:
        results = await asyncio.gather(
            *(write_counters(EventSourcedRepository(PostgresEventStore(p)), 4, 5) for p in pools)
        )
        last = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, [PROJECTION], last, timeout=WAIT)
    finally:
        await runner.stop()
        for p in pools:
            await p.close()
    expected = {k: v for r in results for k, v in r.items()}
    counters, log = await snapshot_tables(conn)
    assert {row[0]: row[2] for row in counters} == expected
    total = await conn.fetchval("SELECT count(*) FROM backlynk_events")
    assert len(log) == total == 8 * 4 * 6  # every event once (the log has a primary key)


async def test_rebuild_equals_the_live_tables(conn, infra, settings):
    runner = ProjectorRunner(settings.database_url, infra.store, [PROJECTION], poll_interval=0.05)
    await runner.start()
    try:
        await write_counters(infra.repository, n=5, increments=3)
        last = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, [PROJECTION], last, timeout=WAIT)
        live = await snapshot_tables(conn)
        # rebuilding while the live runner is running is safe too; the live runner may
        # replay part of the log itself (the loser of each batch discards it)
        replayed = await rebuild(conn, infra.store, PROJECTION)
        assert 0 <= replayed <= 20
        assert await position(conn, PROJECTION) == 20
        assert await snapshot_tables(conn) == live
    finally:
        await runner.stop()


async def test_only_one_runner_applies_a_projection_and_another_takes_over(conn, infra, settings):
    first = ProjectorRunner(
        settings.database_url, infra.store, [PROJECTION], poll_interval=0.05, lock_retry=0.05
    )
    second = ProjectorRunner(
        settings.database_url, infra.store, [PROJECTION], poll_interval=0.05, lock_retry=0.05
    )

    async def first_holds() -> bool:
        return first.holding == {PROJECTION.name}

    async def second_stands_by() -> bool:
        return second.standing_by == {PROJECTION.name}

    await first.start()
    try:
        await eventually(first_holds, timeout=WAIT, every=0.02)
        await second.start()
        await eventually(second_stands_by, timeout=WAIT, every=0.02)
        await write_counters(infra.repository, n=2, increments=2)
        last = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, [PROJECTION], last, timeout=WAIT)
        assert first.holding == {PROJECTION.name} and not second.holding
        await first.stop()  # the holder goes
        await write_counters(infra.repository, n=1, increments=1)
        last = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, [PROJECTION], last, timeout=WAIT)
        assert second.holding == {PROJECTION.name} and not second.standing_by
    finally:
        await first.stop()
        await second.stop()
    assert len((await snapshot_tables(conn))[1]) == 8


def start_projector(settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.projector_process", settings.database_url, *args],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()  # reaped: the kernel has closed its sockets


async def sessions(conn) -> dict[int, bool]:
    """The processes connected to run PROJECTION (their pid, from each connection's
    application_name), and whether each holds its lock."""
    rows = await conn.fetch(
        """SELECT a.application_name, l.pid IS NOT NULL AS holds
           FROM pg_stat_activity a
           LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
                AND l.database = a.datid AND l.classid = 0 AND l.objid::bigint = $2
                AND l.objsubid = 1
           WHERE a.datname = current_database() AND a.application_name LIKE $1""",
        f"backlynk-projector {PROJECTION.name} %",
        lock_key(PROJECTION),
    )
    return {int(r[0].split()[2].partition("@")[0]): r[1] for r in rows}


async def active_and_standby(
    conn, procs: list[subprocess.Popen]
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """Wait until both processes are connected, one holding the lock; (holder, standby)."""
    pids = {p.pid for p in procs}

    async def one_holds_one_stands_by() -> dict[int, bool]:
        seen = await sessions(conn)
        return seen if set(seen) == pids and sorted(seen.values()) == [False, True] else {}

    seen = await eventually(one_holds_one_stands_by, timeout=WAIT, every=0.05)
    return next(p for p in procs if seen[p.pid]), next(p for p in procs if not seen[p.pid])


async def test_a_standby_process_applies_an_event_appended_after_a_kill_9_within_5_s(
    conn, infra, settings
):
    procs = [start_projector(settings), start_projector(settings)]
    try:
        expected = await write_counters(infra.repository, n=2, increments=3)
        last = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, [PROJECTION], last, timeout=WAIT)
        active, standby = await active_and_standby(conn, procs)

        kill_9(active)
        killed_at = time.monotonic()
        expected |= await write_counters(infra.repository, n=1, increments=1)
        last = await infra.store.max_notification_id()
        applied = await wait_for(
            infra.pool, [PROJECTION], last, timeout=TAKEOVER - (time.monotonic() - killed_at)
        )
        assert applied, f"not applied within {TAKEOVER} s of the kill: {await sessions(conn)}"

        async def standby_holds() -> bool:
            return await sessions(conn) == {standby.pid: True}

        await eventually(standby_holds, timeout=WAIT, every=0.05)
    finally:
        for proc in procs:
            kill_9(proc)
    counters, log = await snapshot_tables(conn)
    assert {row[0]: row[2] for row in counters} == expected
    assert len(log) == last and await position(conn, PROJECTION) == last


async def test_a_holder_killed_inside_a_statement_loses_the_lock_within_5_s(conn, infra, settings):
    """Postgres notices a dead client only when it next reads from it; a backend busy in a
    statement would keep the lock until the statement ends, were it not for the runner's
    `client_connection_check_interval`."""
    procs = [start_projector(settings, "gated"), start_projector(settings, "gated")]
    gate = await asyncpg.connect(settings.database_url)
    try:
        await gate.execute("SELECT pg_advisory_lock($1)", GATE)
        active, standby = await active_and_standby(conn, procs)
        gated = Counter("gated", uuid.uuid4())
        await infra.repository.save(gated)

        async def holder_waits_inside_its_statement() -> bool:
            return bool(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 "
                    "AND state = 'active' AND wait_event_type = 'Lock'",
                    f"backlynk-projector {PROJECTION.name} {active.pid}@%",
                )
            )

        await eventually(holder_waits_inside_its_statement, timeout=WAIT, every=0.05)
        kill_9(active)
        killed_at = time.monotonic()

        async def standby_holds() -> bool:
            return await sessions(conn) == {standby.pid: True}

        # the gate is still closed: the dead holder's statement never ended by itself
        await eventually(standby_holds, timeout=TAKEOVER - (time.monotonic() - killed_at))
        await gate.execute("SELECT pg_advisory_unlock($1)", GATE)
        last = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, [PROJECTION], last, timeout=WAIT)
    finally:
        for proc in procs:
            kill_9(proc)
        await gate.close()
    counters, log = await snapshot_tables(conn)
    assert [(row[1], row[2]) for row in counters] == [("gated", 0)]
    assert len(log) == last == 1


async def test_kill_9_of_a_projector_process_mid_stream_then_restart(conn, infra, settings):
    expected: dict = {}
    appending = True

    async def append() -> None:  # events keep coming: each kill lands mid-stream
        while appending:
            expected.update(await write_counters(infra.repository, n=1, increments=6))
            await asyncio.sleep(0.02)

    writer = asyncio.create_task(append())
    try:
        for _ in range(4):
            before = await position(conn, PROJECTION)
            proc = start_projector(settings)

            async def applied_some(before: int = before) -> bool:
                return await position(conn, PROJECTION) > before

            try:
                # this process applied something: the kill interrupts real work
                await eventually(applied_some, timeout=WAIT, every=0.02)
            finally:
                kill_9(proc)
    finally:
        appending = False
        await writer
    last = await infra.store.max_notification_id()
    proc = start_projector(settings)
    try:
        assert await wait_for(infra.pool, [PROJECTION], last, timeout=WAIT)
    finally:
        kill_9(proc)
    counters, log = await snapshot_tables(conn)
    assert {row[0]: row[2] for row in counters} == expected
    assert len(log) == last and await position(conn, PROJECTION) == last


async def test_an_event_a_projection_cannot_apply_stops_it_there_keeping_what_came_before(
    conn, infra
):
    class Refusing(CounterProjection):
        async def apply(self, conn, event, notification_id):
            if isinstance(event, Counter.Incremented) and event.by == 2:
                raise ValueError("cannot store this")
            await super().apply(conn, event, notification_id)

    await write_counters(infra.repository, n=1, increments=3)  # ids 1 (created), 2, 3, 4
    with pytest.raises(CannotApply) as caught:
        await catch_up(conn, infra.store, Refusing())
    stuck = caught.value
    assert "projection test_counters: cannot apply notification 3" in str(stuck)
    assert "Counter.Incremented" in str(stuck) and isinstance(stuck.__cause__, ValueError)
    # the events before the bad one are kept, in their own batch: it stops exactly there
    assert stuck.after == 2 and await position(conn, PROJECTION) == 2
    assert [r[0] for r in (await snapshot_tables(conn))[1]] == [1, 2]


async def test_a_batch_that_fails_is_applied_event_by_event_and_stops_at_the_bad_event(conn, infra):
    """A counter named with a NUL, which Postgres refuses in text: the set-based batch is
    refused, the same events one at a time name the event, and the events before it
    (other topics' too) are kept in their own batch."""
    await write_counters(infra.repository, n=2, increments=2)  # ids 1-3, 4-6
    tagged = Counter("tagged", uuid.uuid4())
    tagged.tag(Tag("t", datetime.now(UTC)))  # Tagged: a topic the projection does not read
    await infra.repository.save(tagged)  # ids 7, 8
    await infra.repository.save(Counter("bad\x00name", uuid.uuid4()))  # id 9
    await write_counters(infra.repository, n=1, increments=1)  # ids 10, 11
    with pytest.raises(CannotApply) as caught:
        await catch_up(conn, infra.store, BatchedCounterProjection())
    stuck = caught.value
    assert "cannot apply notification 9" in str(stuck) and stuck.after == 8
    assert await position(conn, PROJECTION) == 8  # past the Tagged event, up to the bad one
    assert [r[0] for r in (await snapshot_tables(conn))[1]] == [1, 2, 3, 4, 5, 6, 7]


async def test_a_log_row_that_exists_fails_the_batch_copy_and_stops_at_its_event(conn, infra):
    """The counter log is written with COPY, nothing read first (`NewRows`): a row the
    table holds already fails the whole batch, and one event at a time names its event."""
    await write_counters(infra.repository, n=2, increments=2)  # ids 1-6
    await conn.execute("INSERT INTO test_counter_log VALUES (4, $1)", uuid.uuid4())
    with pytest.raises(CannotApply) as caught:
        await catch_up(conn, infra.store, BatchedCounterProjection())
    stuck = caught.value
    assert "cannot apply notification 4" in str(stuck) and stuck.after == 3
    assert isinstance(stuck.__cause__, asyncpg.UniqueViolationError)
    assert await position(conn, PROJECTION) == 3
    assert [r[0] for r in (await snapshot_tables(conn))[1]] == [1, 2, 3, 4]


async def test_batched_and_per_event_catch_up_give_the_same_tables(conn, infra):
    await write_counters(infra.repository, n=7, increments=5)
    await catch_up(conn, infra.store, CounterProjection(), batch_size=1)
    one_by_one = await snapshot_tables(conn)
    for batch_size in (2, 7, 500):
        await rebuild(conn, infra.store, BatchedCounterProjection(), batch_size=batch_size)
        assert await snapshot_tables(conn) == one_by_one
    assert await position(conn, PROJECTION) == 42


async def test_reading_ahead_gives_the_same_tables_and_is_dropped_when_the_position_moved(
    conn, infra
):
    await write_counters(infra.repository, n=7, increments=5)
    await catch_up(conn, infra.store, CounterProjection(), batch_size=1, read_ahead=False)
    one_by_one = await snapshot_tables(conn)
    for batch_size in (1, 3, 7, 500):
        await reset(conn, PROJECTION)
        n = await catch_up(conn, infra.store, BatchedCounterProjection(), batch_size=batch_size)
        assert n == 42 and await snapshot_tables(conn) == one_by_one

    class ResetMidway(BatchedCounterProjection):
        """Another runner's reset lands while the next batch is read ahead (as the second
        batch begins, before it touches anything): that batch and the one read ahead,
        both from positions the reset undid, must not be kept."""

        calls = 0

        async def apply_batch(self, c, events):
            ResetMidway.calls += 1
            if ResetMidway.calls == 2:
                other = await asyncpg.connect(infra.settings.database_url)
                try:
                    await reset(other, PROJECTION)
                finally:
                    await other.close()
            await super().apply_batch(c, events)

    await reset(conn, PROJECTION)
    await catch_up(conn, infra.store, ResetMidway(), batch_size=5)
    assert ResetMidway.calls > 9  # the batches from 0 again after the reset
    assert await snapshot_tables(conn) == one_by_one
    assert await position(conn, PROJECTION) == 42


async def test_a_stop_while_a_failed_batch_waits_for_its_read_ahead_stops_the_catch_up(conn, infra):
    """A batch fails while the next one is read ahead: catch_up cancels the read ahead and
    waits for it to end (a query's cancellation takes a round trip). A stop arriving
    during that wait (the runner cancelling the projection's task) must end catch_up,
    not be taken for the read ahead's own end: swallowed, the runner recorded the failure,
    backed off and went on, and its `stop()` (the web process's shutdown, a test's
    teardown) waited for ever."""
    await write_counters(infra.repository, n=2, increments=2)  # ids 1-6
    cancelling, answered = asyncio.Event(), asyncio.Event()

    class SlowToCancel(PostgresEventStore):
        async def max_notification_id(self) -> int:  # the read ahead's first query
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelling.set()
                await answered.wait()  # the server's answer to the query's cancel
                raise
            raise AssertionError("not reached")

    class Refused(BatchedCounterProjection):
        async def apply_batch(self, c, events):
            raise ValueError("refused")

        async def apply(self, c, event, notification_id):
            raise ValueError("refused")

    store = SlowToCancel(infra.pool)
    catching_up = asyncio.create_task(catch_up(conn, store, Refused(), batch_size=2))
    await cancelling.wait()  # the batch failed; catch_up waits for the read ahead to end
    catching_up.cancel()
    answered.set()
    await asyncio.wait([catching_up])
    assert catching_up.cancelled(), catching_up.exception()
