"""A read model of `tests.counter.Counter`, to test the projector machinery."""

from __future__ import annotations

from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

from projections.batch import NewRows, Rows
from tests.counter import Counter


class CounterProjection:
    name = "test_counters"
    tables = ("test_counters", "test_counter_log")
    topics = (get_topic(Counter.Created), get_topic(Counter.Incremented))
    ddl = (
        """CREATE TABLE IF NOT EXISTS test_counters (
            id uuid PRIMARY KEY, name text NOT NULL, value bigint NOT NULL,
            version bigint NOT NULL)""",
        # a primary key on the notification id: applying any event twice would fail
        """CREATE TABLE IF NOT EXISTS test_counter_log (
            notification_id bigint PRIMARY KEY, originator_id uuid NOT NULL)""",
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, Counter.Created):
            await conn.execute(
                "INSERT INTO test_counters VALUES ($1, $2, 0, $3)",
                event.originator_id,
                event.name,
                event.originator_version,
            )
        elif isinstance(event, Counter.Incremented):
            await conn.execute(
                "UPDATE test_counters SET value = value + $2, version = $3 WHERE id = $1",
                event.originator_id,
                event.by,
                event.originator_version,
            )
        await conn.execute(
            "INSERT INTO test_counter_log VALUES ($1, $2)", notification_id, event.originator_id
        )


class BatchedCounterProjection(CounterProjection):
    """The same read model with a set-based `apply_batch` (`projections.batch`)."""

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        counters = Rows("test_counters", ("id",))
        log = NewRows("test_counter_log", ("notification_id",))
        await counters.load(conn, {(e.originator_id,) for e, _ in events})
        await log.load(conn)
        for event, notification_id in events:
            key = (event.originator_id,)
            if isinstance(event, Counter.Created):
                counters.insert(
                    {
                        "id": key[0],
                        "name": event.name,
                        "value": 0,
                        "version": event.originator_version,
                    }
                )
            elif isinstance(event, Counter.Incremented):
                row = counters.get(key)
                value = row["value"] + event.by if row is not None else None
                counters.update(key, value=value, version=event.originator_version)
            log.insert({"notification_id": notification_id, "originator_id": key[0]})
        await counters.write(conn)
        await log.write(conn)


async def snapshot_tables(conn: asyncpg.Connection) -> tuple[list, list]:
    counters = await conn.fetch("SELECT * FROM test_counters ORDER BY id")
    log = await conn.fetch("SELECT * FROM test_counter_log ORDER BY notification_id")
    return [tuple(r) for r in counters], [tuple(r) for r in log]


GATE = 7_000_001  # advisory lock key a test holds to keep a runner inside a statement


class GatedCounterProjection(CounterProjection):
    """Applies a counter named "gated" only while the GATE lock is free: a test holding
    GATE keeps the runner's backend inside a statement (waiting for the lock)."""

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, Counter.Created) and event.name == "gated":
            await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", GATE)
        await super().apply(conn, event, notification_id)
