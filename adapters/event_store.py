"""The Postgres event store, written with asyncpg.

The schema is exactly what eventsourcing's `PostgresApplicationRecorder` creates for an
application named `Backlynk`, so either side can read what the other wrote.

Appends are group-committed: concurrent `append` calls in one process queue their
batches, and one flusher writes everything waiting in a single transaction under
`LOCK TABLE ... IN EXCLUSIVE MODE` (the lock eventsourcing takes too, so the two
interoperate). Holding that lock until commit makes notification ids visible in commit
order, so a reader tailing the log never passes an id that a slower transaction fills
in later. Optimistic concurrency is checked per batch under the lock: a batch that would
write an (originator_id, version) that exists, or that another batch in the same flush
takes first, fails with `ConcurrencyConflict` and writes nothing; the others commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Notification, StoredEvent

from domain.errors import ConcurrencyConflict

log = logging.getLogger(__name__)

APPLICATION_NAME = "Backlynk"
EVENTS_TABLE = "backlynk_events"
SNAPSHOTS_TABLE = "backlynk_snapshots"
CHANNEL = "backlynk_events"

# Same statements as eventsourcing.postgres for an app named "Backlynk" (schema public,
# originator_id_type uuid). CREATE TYPE has no IF NOT EXISTS, hence the DO block.
_STORAGE = "WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, \
autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000, \
autovacuum_analyze_scale_factor = 0.01)"
SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS public.{EVENTS_TABLE} (
        originator_id uuid NOT NULL, originator_version bigint NOT NULL,
        topic text, state bytea, notification_id bigserial,
        PRIMARY KEY (originator_id, originator_version)) {_STORAGE}""",
    f"""CREATE UNIQUE INDEX IF NOT EXISTS {EVENTS_TABLE}_notification_id_idx
        ON public.{EVENTS_TABLE} (notification_id ASC)""",
    f"""CREATE TABLE IF NOT EXISTS public.{SNAPSHOTS_TABLE} (
        originator_id uuid NOT NULL, originator_version bigint NOT NULL,
        topic text, state bytea,
        PRIMARY KEY (originator_id, originator_version)) {_STORAGE}""",
    """DO $$ BEGIN
        CREATE TYPE public.stored_event_uuid AS
            (originator_id uuid, originator_version bigint, topic text, state bytea);
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
]

# One round trip per flush: the lock, the insert, the optimistic-concurrency check and the
# NOTIFY run server-side in one statement (its implicit transaction holds the lock until
# commit). Under the lock nothing else writes, so a primary-key probe per key finds every
# clash before the insert, and the batches holding one are left out (the caller sees
# which by the rows returned): no exception block, whose subtransaction every append
# paid for the rare conflict. The NOTIFY is delivered at commit, as in eventsourcing's own
# function, and only when something was written.
_APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION public.backlynk_append(
    ids uuid[], versions bigint[], topics text[], states bytea[], batches int[])
RETURNS TABLE(originator_id uuid, originator_version bigint, notification_id bigint)
LANGUAGE plpgsql AS $body$
DECLARE
    conflicted int[];
    w_ids uuid[];
    w_versions bigint[];
    w_notes bigint[];
BEGIN
    LOCK TABLE public.{EVENTS_TABLE} IN EXCLUSIVE MODE;
    -- LATERAL ... LIMIT 1: a primary-key probe per key, whatever the table's size
    SELECT coalesce(array_agg(DISTINCT k.b), '{{}}') INTO conflicted
      FROM unnest(ids, versions, batches) AS k(id, v, b)
      CROSS JOIN LATERAL (SELECT 1 FROM public.{EVENTS_TABLE} e
         WHERE e.originator_id = k.id AND e.originator_version = k.v LIMIT 1) AS hit;
    WITH w AS (
        INSERT INTO public.{EVENTS_TABLE} AS t
            (originator_id, originator_version, topic, state)
        SELECT k.id, k.v, k.t, k.s
          FROM unnest(ids, versions, topics, states, batches)
               WITH ORDINALITY AS k(id, v, t, s, b, o)
         WHERE NOT (k.b = ANY(conflicted)) ORDER BY k.o
        RETURNING t.originator_id, t.originator_version, t.notification_id)
    SELECT array_agg(w.originator_id), array_agg(w.originator_version),
           array_agg(w.notification_id)
      INTO w_ids, w_versions, w_notes FROM w;
    IF cardinality(w_notes) > 0 THEN
        NOTIFY {CHANNEL};
    END IF;
    RETURN QUERY SELECT * FROM unnest(w_ids, w_versions, w_notes);
END $body$"""
SCHEMA.append(_APPEND_FUNCTION)
_APPEND = "SELECT * FROM public.backlynk_append($1, $2, $3, $4, $5)"


@dataclass
class _Batch:
    events: Sequence[StoredEvent]
    future: asyncio.Future[list[int]]
    keys: list[tuple[UUID, int]] = field(default_factory=list)


class PostgresEventStore:
    """Append and read stored events and the notification log."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_events_per_flush: int = 5000,
        hold_connection_for: float = 0.25,
    ):
        self.pool = pool
        self.max_events_per_flush = max_events_per_flush
        self.hold_connection_for = hold_connection_for
        self._waiting: list[_Batch] = []
        self._taken: list[_Batch] = []  # the flush under way
        self._flusher: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None  # the flusher's, between flushes
        self._idle: asyncio.TimerHandle | None = None
        self._releasing: asyncio.Task[None] | None = None

    # -- writing ---------------------------------------------------------------------

    async def append(self, events: Sequence[StoredEvent]) -> list[int]:
        """Write `events` (of one or several aggregates) atomically; return their
        notification ids in the given order. Raises `ConcurrencyConflict`."""
        if not events:
            return []
        loop = asyncio.get_running_loop()
        batch = _Batch(events, loop.create_future())
        batch.keys = [(e.originator_id, e.originator_version) for e in events]
        if len(set(batch.keys)) != len(batch.keys):
            raise ConcurrencyConflict("The same aggregate version appears twice in one append.")
        self._waiting.append(batch)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_while_waiting())
            self._flusher.add_done_callback(self._flusher_ended)
        # shield: a caller that goes away must not cancel a commit others share
        return await asyncio.shield(batch.future)

    async def _flush_while_waiting(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        while self._waiting:
            taken = self._taken = []
            count = 0
            while self._waiting and (not taken or count < self.max_events_per_flush):
                batch = self._waiting.pop(0)
                taken.append(batch)
                count += len(batch.events)
            try:
                await self._commit(taken)
            except Exception as exc:  # the whole transaction failed: tell everyone
                for batch in taken:
                    if not batch.future.done():
                        batch.future.set_exception(exc)
                if not isinstance(exc, (asyncpg.PostgresError, ConcurrencyConflict)):
                    await self._give_back()  # broken or unknown state: not reused
        self._taken = []
        if self._conn is not None:
            self._idle = asyncio.get_running_loop().call_later(
                self.hold_connection_for, self._release_if_idle
            )

    def _flusher_ended(self, flusher: asyncio.Task[None]) -> None:
        """A flusher cancelled (the loop is closing), even before it started, or failing
        outside a commit leaves no caller waiting forever: the outcome of what it held is
        unknown, so those appends are cancelled, and its connection goes back."""
        if not flusher.cancelled() and flusher.exception() is None:
            return
        for batch in [*self._taken, *self._waiting]:
            batch.future.cancel()
        self._taken, self._waiting = [], []
        self._releasing = asyncio.get_running_loop().create_task(self._give_back())

    def _release_if_idle(self) -> None:
        self._idle = None
        if self._flusher is None or self._flusher.done():
            self._releasing = asyncio.get_running_loop().create_task(self._give_back())

    async def _give_back(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self.pool.release(conn)
            except Exception:  # the pool was terminated under us: nothing to give back to
                log.debug("event store: could not release the writer connection", exc_info=True)

    async def close(self) -> None:
        """Finish pending appends and give the writer connection back to the pool (call
        before closing the pool; otherwise the pool waits for `hold_connection_for`)."""
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher])
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        await self._give_back()

    async def _commit(self, batches: list[_Batch]) -> None:
        try:
            results = await self._write(batches)
        except asyncpg.UniqueViolationError:
            # Only possible if a writer skipped the table lock; settle batches one by one.
            if len(batches) == 1:
                raise ConcurrencyConflict("Aggregate was changed by another writer.") from None
            for batch in batches:
                await self._commit([batch])
            return
        for batch, result in zip(batches, results, strict=True):
            if batch.future.done():
                continue
            if isinstance(result, Exception):
                batch.future.set_exception(result)
            else:
                batch.future.set_result(result)

    async def _write(self, batches: list[_Batch]) -> list[list[int] | Exception]:
        # A batch that repeats a key of an earlier batch in this flush loses, as it would
        # have had it been committed second.
        seen: set[tuple[UUID, int]] = set()
        clashing: set[int] = set()
        for i, batch in enumerate(batches):
            if seen.intersection(batch.keys):
                clashing.add(i)
            else:
                seen.update(batch.keys)
        sent = [(i, b) for i, b in enumerate(batches) if i not in clashing]
        events = [(i, e) for i, b in sent for e in b.events]
        if self._conn is not None and self._conn.is_closed():  # the server ended it
            await self._give_back()
        if self._conn is None:
            self._conn = await self.pool.acquire()
        rows = await self._conn.fetch(
            _APPEND,
            [e.originator_id for _, e in events],
            [e.originator_version for _, e in events],
            [e.topic for _, e in events],
            [e.state for _, e in events],
            [i for i, _ in events],
        )
        assigned = {(r[0], r[1]): r[2] for r in rows}
        results: list[list[int] | Exception] = []
        for i, batch in enumerate(batches):
            ids = [assigned.get(k) for k in batch.keys]
            if i not in clashing and all(n is not None for n in ids):
                results.append(ids)  # type: ignore[arg-type]
            else:
                results.append(ConcurrencyConflict("Aggregate was changed by another writer."))
        return results

    # -- reading ---------------------------------------------------------------------

    async def read(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """One aggregate's events in version order, optionally after/up to a version."""
        rows = await self.pool.fetch(
            f"""SELECT originator_id, originator_version, topic, state
                FROM public.{EVENTS_TABLE} WHERE originator_id = $1
                AND ($2::bigint IS NULL OR originator_version > $2)
                AND ($3::bigint IS NULL OR originator_version <= $3)
                ORDER BY originator_version LIMIT $4""",
            originator_id,
            gt,
            lte,
            limit,
        )
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def notifications(
        self,
        after: int,
        limit: int,
        *,
        topics: Sequence[str] = (),
        upto: int | None = None,
        conn: Any = None,
    ) -> list[Notification]:
        """The notification log after id `after` (exclusive), in id order."""
        rows = await (conn or self.pool).fetch(
            f"""SELECT notification_id, originator_id, originator_version, topic, state
                FROM public.{EVENTS_TABLE} WHERE notification_id > $1
                AND ($2::bigint IS NULL OR notification_id <= $2)
                AND (cardinality($3::text[]) = 0 OR topic = ANY($3::text[]))
                ORDER BY notification_id LIMIT $4""",
            after,
            upto,
            list(topics),
            limit,
        )
        return [_notification(r) for r in rows]

    async def max_notification_id(self) -> int:
        value = await self.pool.fetchval(f"SELECT MAX(notification_id) FROM {EVENTS_TABLE}")
        return value or 0

    # -- snapshots -------------------------------------------------------------------

    async def put_snapshot(self, snapshot: StoredEvent) -> None:
        await self.pool.execute(
            f"""INSERT INTO public.{SNAPSHOTS_TABLE}
                (originator_id, originator_version, topic, state) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING""",
            snapshot.originator_id,
            snapshot.originator_version,
            snapshot.topic,
            snapshot.state,
        )

    async def latest_snapshot(
        self, originator_id: UUID, *, lte: int | None = None
    ) -> StoredEvent | None:
        row = await self.pool.fetchrow(
            f"""SELECT originator_id, originator_version, topic, state
                FROM public.{SNAPSHOTS_TABLE} WHERE originator_id = $1
                AND ($2::bigint IS NULL OR originator_version <= $2)
                ORDER BY originator_version DESC LIMIT 1""",
            originator_id,
            lte,
        )
        return StoredEvent(row[0], row[1], row[2], bytes(row[3])) if row else None


_NEW = object.__new__
_SET = object.__setattr__


def _notification(r: asyncpg.Record) -> Notification:
    """A `Notification` of a fetched row (id, originator id and version, topic, state),
    its fields set at once: the frozen dataclass's `__init__` sets them one at a time
    through `object.__setattr__`, most of a catch-up's cost of reading the log."""
    note = _NEW(Notification)
    _SET(
        note,
        "__dict__",
        {
            "originator_id": r[1],
            "originator_version": r[2],
            "topic": r[3],
            "state": bytes(r[4]),
            "id": r[0],
        },
    )
    return note


async def create_schema(conn: asyncpg.Connection) -> None:
    for statement in SCHEMA:
        await conn.execute(statement)
