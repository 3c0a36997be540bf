"""Catch-up rate of one projection over 100,000 events: the projector's batched apply
(500 events + tracking per transaction) against a baseline of one transaction per event,
measured in the same run on the same database.

    python bench/projection.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg

from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from bench.common import drop_database, fresh_database
from projections.base import tracking_ddl
from projections.runner import catch_up, reset
from tests.counter import Counter
from tests.counter_projection import CounterProjection

DB = "backlynk_bench_projection"


async def write_events(store: PostgresEventStore, total: int) -> None:
    mapper = TypedMapper(MsgspecTranscoder())
    written = 0
    while written < total:
        batch = []
        while len(batch) < 1000 and written < total:
            c = Counter("bench", uuid.uuid4())
            for k in range(min(9, total - written - 1)):
                c.increment(by=k, when=datetime.now(UTC))
            events = c.collect_events()
            batch.extend(mapper.to_stored_event(e) for e in events)
            written += len(events)
        await store.append(batch)


async def rate(
    conn: asyncpg.Connection, store: PostgresEventStore, batch_size: int, limit: int | None = None
) -> float:
    projection = CounterProjection()
    await reset(conn, projection)
    started = time.perf_counter()
    if limit is None:
        n = await catch_up(conn, store, projection, batch_size=batch_size)
    else:
        n = 0
        mapper = TypedMapper(MsgspecTranscoder())
        from projections.runner import apply_batch

        while n < limit:
            n += await apply_batch(conn, store, mapper, projection, batch_size)
    return n / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--baseline-events", type=int, default=5_000)
    args = parser.parse_args()
    projection = CounterProjection()
    url = await fresh_database(DB, [*projection.ddl, *tracking_ddl(projection)])
    pool = await connect_pool(url, max_size=4)
    conn = await asyncpg.connect(url)
    try:
        store = PostgresEventStore(pool)
        await write_events(store, args.events)
        batched = await rate(conn, store, batch_size=500)
        baseline = await rate(conn, store, batch_size=1, limit=args.baseline_events)
        print(
            f"projection catch-up over {args.events} events: {batched:8.0f} events/s "
            f"(500 per transaction)"
        )
        print(
            f"  baseline, one transaction per event ({args.baseline_events} events): "
            f"{baseline:8.0f} events/s   ratio {batched / baseline:.2f}x"
        )
    finally:
        await conn.close()
        await pool.close()
        await drop_database(DB)


if __name__ == "__main__":
    asyncio.run(main())
