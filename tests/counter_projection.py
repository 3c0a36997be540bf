"""A read model of `tests.counter.Counter`, to test the projector machinery."""

from __future__ import annotations

from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

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
