"""The projector: tails the notification log and applies events to each read model.

Each projection advances in batches; a batch's effects and its new tracking position are
written in ONE transaction, and the position moves by compare-and-set, so effects happen
exactly once however the runner dies or however many runners compete. Each projection is
applied by one runner at a time (a Postgres advisory lock keyed by its name); the others
wait and take over when the holder's connection goes away.

Wakes on NOTIFY and also polls, because notifications are lost across reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

import asyncpg

from adapters.event_store import APPLICATION_NAME, CHANNEL, PostgresEventStore
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from projections.base import Projection, tracking_table

log = logging.getLogger("backlynk.projector")


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


async def apply_batch(
    conn: Any,
    store: PostgresEventStore,
    mapper: TypedMapper,
    projection: Projection,
    batch_size: int,
) -> int:
    """Apply the next batch of events to `projection`; return how many were read."""
    start = await position(conn, projection)
    notes = await store.notifications(start, batch_size, conn=conn)
    if not notes:
        return 0
    wanted = set(projection.topics)
    async with conn.transaction():
        for note in notes:
            if not wanted or note.topic in wanted:
                try:
                    await projection.apply(conn, mapper.to_domain_event(note), note.id)
                except Exception as exc:
                    # the runner retries this batch forever: tell operators which event
                    exc.add_note(
                        f"projection {projection.name}: notification {note.id} "
                        f"({note.topic}, {note.originator_id} v{note.originator_version})"
                    )
                    raise
        moved = await conn.fetchval(
            f"UPDATE public.{tracking_table(projection)} SET notification_id = $1 "
            "WHERE application_name = $2 AND notification_id = $3 RETURNING 1",
            notes[-1].id,
            APPLICATION_NAME,
            start,
        )
        if moved is None:
            raise StalePosition(projection.name)
    return len(notes)


async def catch_up(
    conn: Any,
    store: PostgresEventStore,
    projection: Projection,
    *,
    batch_size: int = 500,
    mapper: TypedMapper | None = None,
) -> int:
    """Apply batches until the log is exhausted; return the number of events read."""
    mapper = mapper or TypedMapper(MsgspecTranscoder())
    total = 0
    while True:
        try:
            n = await apply_batch(conn, store, mapper, projection, batch_size)
        except StalePosition:
            continue
        if n == 0:
            return total
        total += n


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


async def rebuild(
    conn: asyncpg.Connection,
    store: PostgresEventStore,
    projection: Projection,
    *,
    batch_size: int = 500,
) -> int:
    """Replay a projection from position 0; return the number of events read."""
    await reset(conn, projection)
    return await catch_up(conn, store, projection, batch_size=batch_size)


class ProjectorRunner:
    """Runs every projection until stopped; one task and one connection per projection."""

    def __init__(
        self,
        dsn: str,
        store: PostgresEventStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        lock_retry: float = 1.0,
    ):
        self.dsn = dsn
        self.store = store
        self.projections = list(projections)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lock_retry = lock_retry
        self.mapper = TypedMapper(MsgspecTranscoder())
        self._tasks: list[asyncio.Task[None]] = []
        self.holding: set[str] = set()

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
                self.holding.discard(projection.name)
                await asyncio.sleep(self.lock_retry)

    async def _hold_and_apply(self, projection: Projection) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn)
        wake = asyncio.Event()
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(projection)):
                await asyncio.sleep(self.lock_retry)
            self.holding.add(projection.name)
            log.info("projection %s: holding the lock", projection.name)
            await conn.add_listener(CHANNEL, lambda *_: wake.set())
            while True:
                wake.clear()
                started = time.monotonic()
                n = await catch_up(
                    conn, self.store, projection, batch_size=self.batch_size, mapper=self.mapper
                )
                if n:
                    log.debug(
                        "projection %s applied %d events in %.3fs",
                        projection.name,
                        n,
                        time.monotonic() - started,
                    )
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), self.poll_interval)
                except TimeoutError:
                    pass
        finally:
            self.holding.discard(projection.name)
            await conn.close(timeout=2)


async def wait_for(
    pool: asyncpg.Pool,
    projections: Sequence[Projection],
    notification_id: int,
    *,
    timeout: float = 2.0,
) -> bool:
    """Read-your-writes: wait (bounded) until every projection has passed
    `notification_id`. Returns False on timeout; the write itself has committed."""
    if notification_id <= 0 or not projections:
        return True
    query = " UNION ALL ".join(
        f"SELECT notification_id FROM public.{tracking_table(p)} WHERE application_name = $1"
        for p in projections
    )
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        rows = await pool.fetch(f"SELECT min(notification_id) FROM ({query}) t", APPLICATION_NAME)
        if (rows[0][0] or 0) >= notification_id:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
