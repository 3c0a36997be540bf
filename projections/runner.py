"""The projector: tails the notification log and applies events to each read model.

Each projection advances in batches; a batch's effects and its new tracking position are
written in ONE transaction, and the position moves by compare-and-set, so effects happen
exactly once however the runner dies or however many runners compete. Each projection is
applied by one runner at a time (a Postgres advisory lock keyed by its name); the others
stand by, trying the lock every `lock_retry` seconds, and take over when the holder's
connection goes away. A killed holder's lock is freed as soon as Postgres ends its backend:
at once when the holder's socket closes (the kernel closes it even after kill -9), within
`client_connection_check_interval` if the backend was running a statement, and by TCP
keepalive when the holder's machine vanished without closing anything (`HOLDER_SESSION`).

Wakes on NOTIFY and also polls, because notifications are lost across reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import socket
import time
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import asyncpg
from eventsourcing.persistence import Notification

from adapters.event_store import APPLICATION_NAME, CHANNEL, EVENTS_TABLE, PostgresEventStore
from adapters.read_model_feed import MAX_AGGREGATES, told_sql
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from projections import stalls
from projections.base import Owners, Projection, owners, tracking_table

log = logging.getLogger("backlynk.projector")

#: events per transaction (at most): a set-based batch costs a few statements whatever its
#: size, so catching up goes faster with more (bench/projection.py: 2,000 against 500
#: nearly doubled the rate); a live runner's batches are as small as what has arrived
BATCH_SIZE = 2000

# Postgres settings of each projection's connection, so that a dead holder's backend (and
# with it the lock) goes soon: a statement in progress notices its client is gone within a
# second (Linux servers, Postgres 14+); an idle connection whose machine vanished is given
# up after 5 s of silence and 3 unanswered probes 1 s apart; data the server cannot
# deliver, after 8 s. A setting the server does not know or support is left as it is.
HOLDER_SESSION = {
    "client_connection_check_interval": "1000",
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "8000",
}


async def _watch_for_a_dead_client(conn: asyncpg.Connection) -> None:
    for name, value in HOLDER_SESSION.items():
        try:
            await conn.execute(
                "SELECT set_config(name, $2, false) FROM pg_settings WHERE name = $1", name, value
            )
        except asyncpg.PostgresError as refused:  # e.g. no connection check on macOS
            log.info("projector: %s not set (%s)", name, refused)


def session_name(projection: Projection) -> str:
    """`application_name` of a runner's connection: `pg_stat_activity` shows which process
    on which machine holds (see `pg_locks`) or stands by for each projection."""
    return f"backlynk-projector {projection.name} {os.getpid()}@{socket.gethostname()}"[:63]


def lock_key(projection: Projection) -> int:
    return zlib.crc32(f"backlynk:projection:{projection.name}".encode())


async def position(conn: Any, projection: Projection) -> int:
    value = await conn.fetchval(
        f"SELECT notification_id FROM public.{tracking_table(projection)} "
        "WHERE application_name = $1",
        APPLICATION_NAME,
    )
    return value or 0


class StalePosition(Exception):
    """Another runner moved the projection on (or a rebuild reset it): discard the batch."""


class CannotApply(Exception):
    """`projection` cannot apply the notification `note`; every event before it was kept,
    so the projection's position is `after` (the id just before `note`'s)."""

    def __init__(self, projection: str, note: Notification, index: int, after: int):
        self.projection, self.note, self.index, self.after = projection, note, index, after
        super().__init__(
            f"projection {projection}: cannot apply notification {note.id} "
            f"({note.topic}, {note.originator_id} v{note.originator_version})"
        )


def _connection_lost(conn: Any, error: Exception) -> bool:
    """A dropped connection is the runner's trouble (reconnect), not the event's."""
    closed = getattr(conn, "is_closed", None)
    return isinstance(
        error, OSError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError
    ) or bool(closed and closed())


def _decode(mapper: TypedMapper, notes: list[Notification]) -> list[tuple[Any, int]]:
    """The notes' domain events, each with its notification id. The cyclic garbage
    collector waits meanwhile (nothing else runs: there is no await): a batch allocates
    tens of thousands of objects that all live until it is applied, and the collections
    their allocation would trigger, each traversing them again, cost more than the decoding
    itself (bench/replay.py); reference counting still frees what dies at once."""
    if not gc.isenabled():
        return [(mapper.to_domain_event(note), note.id) for note in notes]
    gc.disable()
    try:
        return [(mapper.to_domain_event(note), note.id) for note in notes]
    finally:
        gc.enable()


async def _read(
    conn: Any, store: PostgresEventStore, projection: Projection, limit: int
) -> tuple[int, list[Notification], int]:
    """The projection's position, the next `limit` events of its topics after it (others
    are not read, let alone decoded), and the position the batch moves to: its last event,
    or, when fewer came, the end of the log as it was before they were read. Ids become
    visible in commit order (see the event store), so every event up to that end was
    there to be read; the position passes the other topics' events too, which
    read-your-writes (`wait_for`) counts on."""
    start, end = await conn.fetchrow(
        f"SELECT (SELECT notification_id FROM public.{tracking_table(projection)} "
        f"WHERE application_name = $1), (SELECT max(notification_id) FROM public.{EVENTS_TABLE})",
        APPLICATION_NAME,
    )
    start, end = start or 0, end or 0
    if end <= start:
        return start, [], start
    notes = await store.notifications(start, limit, topics=projection.topics, upto=end, conn=conn)
    return start, notes, notes[-1].id if len(notes) == limit else end


async def _advance(
    conn: Any, projection: Projection, start: int, end: int, notes: Sequence[Notification]
) -> None:
    """Move the position (compare-and-set) past `notes`, the events applied, and tell the
    web processes whose reads they changed, in one statement: the transaction's last, as
    telling holds a lock to commit. A position moved meanwhile raises, and the rollback
    takes the telling back."""
    sql = _advance_sql(tracking_table(projection), projection.name, owners(projection))
    args: list[Any] = [end, APPLICATION_NAME, start]
    if notes and sql.owners is not None:
        originators = list({note.originator_id for note in notes})
        if len(originators) > TELL_EVERY_ACCOUNT_ABOVE:
            moved = await conn.fetchval(sql.every, *args)
        else:
            moved = await conn.fetchval(sql.owners, *args, originators)
    else:
        moved = await conn.fetchval(sql.plain, *args)
    if not moved:
        raise StalePosition(projection.name)


#: a batch of events of more aggregates than a notification may name (a catch-up, not a
#: live runner's few) is told as a change for every account without looking its owners
#: up: the lookup cost a catch-up a sixth of its rate (bench/projection.py)
TELL_EVERY_ACCOUNT_ABOVE = MAX_AGGREGATES


class AdvanceSql(NamedTuple):
    """The statements moving a projection's position from $3 to $1 (its runner's name
    $2), each answering how many rows moved (0 or 1). `owners`, given the originators of
    the batch's events as $4, also tells the aggregates and the accounts owning them
    (found in the rows the batch wrote: unqualified, so a replay's scratch copy answers
    for itself), or every account when one of them has no row; `every` tells every
    account. Both None when the projection does not tell."""

    plain: str
    owners: str | None
    every: str | None


@functools.lru_cache(maxsize=64)
def _advance_sql(tracking: str, model: str, found: Owners | None) -> AdvanceSql:
    moved = (
        f"UPDATE public.{tracking} SET notification_id = $1 "
        "WHERE application_name = $2 AND notification_id = $3 RETURNING 1"
    )
    if found is None:
        return AdvanceSql(moved, None, None)
    counted = f"WITH moved AS ({moved}) SELECT (SELECT count(*) FROM moved)"
    return AdvanceSql(
        plain=moved,
        owners=(
            f"{counted}, public.backlynk_read_models_changed('{model}', CASE WHEN count(*) = "
            f"cardinality($4::uuid[]) THEN array_agg(DISTINCT {found.account}) END, "
            f"$4::uuid[]) FROM {found.table} WHERE {found.key} = ANY($4::uuid[])"
        ),
        every=f"{counted}, public.backlynk_read_models_changed('{model}', NULL, NULL)",
    )


class Batch(NamedTuple):
    """Events read for a projection at position `start`; applying them moves it to `end`.
    `events`: the notes decoded, when a read ahead decoded them already."""

    start: int
    notes: list[Notification]
    end: int
    events: list[tuple[Any, int]] | None = None


async def apply_batch(
    conn: Any,
    store: PostgresEventStore,
    mapper: TypedMapper,
    projection: Projection,
    batch_size: int,
) -> int:
    """Apply the next batch of events to `projection`; return how many were applied.

    An event the projection cannot apply raises `CannotApply` after the events before it
    are kept (in their own, smaller batch), so the projection stops exactly at the bad
    event: its position is the id just before it."""
    batch = Batch(*await _read(conn, store, projection, batch_size))
    return await _apply_read(conn, mapper, projection, batch)


async def _apply_read(conn: Any, mapper: TypedMapper, projection: Projection, batch: Batch) -> int:
    start, notes, end, events = batch
    if end == start:
        return 0
    try:
        await _apply(conn, mapper, projection, start, notes, end, events)
    except CannotApply as stuck:
        if await position(conn, projection) != start:
            # not the event's fault: another runner (or a rebuild) wrote the same rows
            raise StalePosition(projection.name) from stuck
        if stuck.after > start:
            await _apply(conn, mapper, projection, start, notes[: stuck.index], stuck.after)
        raise
    return len(notes)


async def _apply(
    conn: Any,
    mapper: TypedMapper,
    projection: Projection,
    start: int,
    notes: list[Notification],
    end: int,
    events: list[tuple[Any, int]] | None = None,
) -> None:
    """Apply `notes` and move the position from `start` to `end`, in one transaction.

    A projection with `apply_batch` gets them all in one call (set-based SQL); if that
    fails for any reason but a lost connection or a moved position, they are applied one
    event at a time, which finds the event at fault (`CannotApply`)."""
    batched = getattr(projection, "apply_batch", None)
    if batched is not None and len(notes) > 1:
        try:
            if events is None:
                events = _decode(mapper, notes)
            async with conn.transaction():
                await batched(conn, events)
                await _advance(conn, projection, start, end, notes)
            return
        except StalePosition:
            raise
        except Exception as exc:
            if _connection_lost(conn, exc):
                raise
            log.info(
                "projection %s: the batch after %d failed (%s); one event at a time",
                projection.name,
                start,
                stalls.describe(exc),
            )
    async with conn.transaction():
        for index, note in enumerate(notes):
            try:
                await projection.apply(conn, mapper.to_domain_event(note), note.id)
            except Exception as exc:
                if _connection_lost(conn, exc):
                    raise
                # the events between the one before and this one are other topics'
                raise CannotApply(projection.name, note, index, note.id - 1) from exc
        await _advance(conn, projection, start, end, notes)


async def _read_ahead(
    store: PostgresEventStore,
    mapper: TypedMapper,
    projection: Projection,
    after: int,
    limit: int,
) -> Batch:
    """The batch after position `after`, read (on the store's pool, not the projection's
    connection) and decoded while the batch before it is being applied. As `_read`: the
    end of the log first, then the events up to it."""
    end = await store.max_notification_id()
    if end <= after:
        return Batch(after, [], after)
    notes = await store.notifications(after, limit, topics=projection.topics, upto=end)
    try:
        events = _decode(mapper, notes)
    except Exception:
        events = None  # `_apply` decodes them again and names the event at fault
    return Batch(after, notes, notes[-1].id if len(notes) == limit else end, events)


async def _next(
    conn: Any,
    store: PostgresEventStore,
    projection: Projection,
    limit: int,
    ahead: asyncio.Task[Batch] | None,
) -> Batch:
    """The batch read ahead if the projection is still where it was read from (nothing
    else moved it meanwhile), else a fresh read."""
    if ahead is not None:
        with contextlib.suppress(Exception):  # a failed read ahead is read again
            batch = await ahead
            if batch.start == await position(conn, projection):
                return batch
    return Batch(*await _read(conn, store, projection, limit))


async def catch_up(
    conn: Any,
    store: PostgresEventStore,
    projection: Projection,
    *,
    batch_size: int = BATCH_SIZE,
    mapper: TypedMapper | None = None,
    read_ahead: bool = True,
) -> int:
    """Apply batches until the log is exhausted; return the number of events read.
    An event an operator skipped (`projections skip`) is passed over, as it was live.

    With `read_ahead`, the next batch is read and decoded (on the store's pool) while
    one is applied: Postgres writes one batch while Python decodes the next."""
    mapper = mapper or TypedMapper(MsgspecTranscoder())
    total = 0
    ahead: asyncio.Task[Batch] | None = None
    try:
        while True:
            batch = await _next(conn, store, projection, batch_size, ahead)
            ahead = None
            if batch.end == batch.start:
                return total
            if read_ahead:
                ahead = asyncio.create_task(
                    _read_ahead(store, mapper, projection, batch.end, batch_size)
                )
            try:
                n = await _apply_read(conn, mapper, projection, batch)
            except StalePosition:
                continue
            except CannotApply as stuck:
                if not await stalls.was_skipped(conn, projection.name, stuck.note.id):
                    raise
                await stalls.pass_over(conn, projection, stuck.note.id, stuck.after)
                continue
            total += n
    finally:
        if ahead is not None:
            ahead.cancel()
            # waited for, its outcome not taken as ours: a cancellation of this task that
            # arrives meanwhile (the runner stopping) must end it, not be swallowed as
            # the read ahead's own (then the runner went on, and `stop()` waited for ever)
            ahead.add_done_callback(_outcome_retrieved)
            await asyncio.wait([ahead])


def _outcome_retrieved(task: asyncio.Task[Any]) -> None:
    """A read ahead no longer wanted: its failure is not one to report."""
    if not task.cancelled():
        task.exception()


async def reset(conn: asyncpg.Connection, projection: Projection) -> None:
    """Empty the projection's tables and move its position back to 0. Tables first, then
    the tracking row: the same lock order as `apply_batch`, so a live runner cannot
    deadlock with a reset; its in-flight batch fails the compare-and-set and is discarded."""
    async with conn.transaction():
        if projection.tables:
            await conn.execute(f"TRUNCATE {', '.join(projection.tables)}")
        await conn.execute(
            f"UPDATE public.{tracking_table(projection)} SET notification_id = 0 "
            "WHERE application_name = $1",
            APPLICATION_NAME,
        )
        if owners(projection):
            await conn.execute(told_sql(projection.name))


async def rebuild(
    conn: asyncpg.Connection,
    store: PostgresEventStore,
    projection: Projection,
    *,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Replay a projection from position 0; return the number of events read."""
    await reset(conn, projection)
    return await catch_up(conn, store, projection, batch_size=batch_size)


class ProjectorRunner:
    """Runs every projection until stopped; one task and one connection per projection.

    A projection that cannot apply an event stops alone: its stall is recorded (and shown by
    `/readyz`), it retries with exponential back-off (a transient error heals by itself; a
    restart retries at once), and a skip recorded by the operator wakes it at once."""

    def __init__(
        self,
        dsn: str,
        store: PostgresEventStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = BATCH_SIZE,
        poll_interval: float = 1.0,
        lock_retry: float = 0.5,
        stuck_retry: float = 0.5,
        stuck_retry_max: float = 30.0,
    ):
        self.dsn = dsn
        self.store = store
        self.projections = list(projections)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lock_retry = lock_retry
        self.stuck_retry = stuck_retry
        self.stuck_retry_max = stuck_retry_max
        self.mapper = TypedMapper(MsgspecTranscoder())
        self._tasks: list[asyncio.Task[None]] = []
        self.holding: set[str] = set()
        self.standing_by: set[str] = set()  # tried the lock and found it held

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(p), name=f"projection:{p.name}") for p in self.projections
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for projection in self.projections:
            close = getattr(projection, "close", None)
            if close is not None:
                await close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def _run(self, projection: Projection) -> None:
        while True:
            try:
                await self._hold_and_apply(projection)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("projection %s stopped; reconnecting", projection.name)
                await asyncio.sleep(self.lock_retry)

    async def _hold_and_apply(self, projection: Projection) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(
            self.dsn, server_settings={"application_name": session_name(projection)}
        )
        wake, skipped = asyncio.Event(), asyncio.Event()
        try:
            await _watch_for_a_dead_client(conn)
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(projection)):
                self.standing_by.add(projection.name)
                await asyncio.sleep(self.lock_retry)
            self.standing_by.discard(projection.name)
            self.holding.add(projection.name)
            log.info("projection %s: holding the lock", projection.name)
            await conn.add_listener(CHANNEL, lambda *_: wake.set())
            await conn.add_listener(
                stalls.CHANNEL,
                lambda _c, _pid, _ch, name: skipped.set() if name == projection.name else None,
            )
            # a stall recorded before a restart is cleared once the projection moves on
            stuck_at = await stalls.stalled_at(conn, projection.name)
            while True:
                wake.clear()
                started = time.monotonic()
                try:
                    n = await catch_up(
                        conn, self.store, projection, batch_size=self.batch_size, mapper=self.mapper
                    )
                except CannotApply as stuck:
                    # wait out the back-off, or until the operator skips the event
                    skipped.clear()
                    attempts = await self._record(conn, stuck)
                    stuck_at = stuck.note.id
                    delay = min(self.stuck_retry * 2 ** (attempts - 1), self.stuck_retry_max)
                    await _wait(skipped, delay)
                    continue
                if stuck_at:
                    await stalls.clear(conn, projection.name)
                    log.info("projection %s: moved past %d", projection.name, stuck_at)
                    stuck_at = 0
                if n:
                    log.debug(
                        "projection %s applied %d events in %.3fs",
                        projection.name,
                        n,
                        time.monotonic() - started,
                    )
                    continue
                await _wait(wake, self.poll_interval)
        finally:
            self.holding.discard(projection.name)
            self.standing_by.discard(projection.name)
            await conn.close(timeout=2)

    async def _record(self, conn: asyncpg.Connection, stuck: CannotApply) -> int:
        note, cause = stuck.note, stuck.__cause__ or stuck
        attempts = await stalls.record(
            conn,
            stuck.projection,
            notification_id=note.id,
            after=stuck.after,
            topic=note.topic,
            originator_id=note.originator_id,
            originator_version=note.originator_version,
            error=stalls.describe(cause),
        )
        if attempts == 1:
            log.error("%s; it is stuck until this succeeds or is skipped", stuck, exc_info=cause)
        else:
            log.warning("%s (attempt %d): %s", stuck, attempts, stalls.describe(cause))
        return attempts


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` pass. Not `asyncio.wait_for`: on Python 3.11 it
    can swallow a cancellation that arrives just as its timeout fires, and `stop()` then
    waits for this task forever (seen as a hung test)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


async def wait_for(
    pool: asyncpg.Pool,
    projections: Sequence[Projection],
    notification_id: int,
    *,
    timeout: float = 2.0,
) -> bool:
    """Read-your-writes: wait (bounded) until every projection has passed
    `notification_id`. Returns False on timeout; the write itself has committed.
    A stuck projection (see `stalls`) is not waited for: once the others have passed,
    the answer is False at once instead of after the whole bound."""
    if notification_id <= 0 or not projections:
        return True
    query = " UNION ALL ".join(
        f"SELECT t.notification_id, EXISTS (SELECT 1 FROM projection_stalls s "
        f"WHERE s.projection = '{p.name}' AND s.after_position = t.notification_id) "
        f"FROM public.{tracking_table(p)} t WHERE t.application_name = $1"
        for p in projections
    )
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        rows = await pool.fetch(query, APPLICATION_NAME)
        live = [r[0] for r in rows if not r[1]]
        if min(live, default=notification_id) >= notification_id:
            return all(r[0] >= notification_id for r in rows)
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
