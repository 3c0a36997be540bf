"""Events appended per second: our asyncpg store vs eventsourcing's
PostgresApplicationRecorder, on the same database in the same run, with 1 writer and with
16 concurrent writers. Each append is one new aggregate with 1-3 events.

    python bench/event_store.py [--appends N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eventsourcing.persistence import StoredEvent

from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from bench.common import drop_database, fresh_database

DB = "backlynk_bench_event_store"
TOPIC = "bench:Thing.Happened"


def make_appends(n: int, seed: int) -> list[list[StoredEvent]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        agg = uuid.uuid4()
        out.append(
            [
                StoredEvent(agg, v, TOPIC, rng.randbytes(160))
                for v in range(1, rng.randint(1, 3) + 1)
            ]
        )
    return out


def eventsourcing_recorder(url: str, pool_size: int):
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    u = urlparse(url)
    datastore = PostgresDatastore(
        dbname=u.path.lstrip("/"),
        host=u.hostname or "127.0.0.1",
        port=str(u.port or 5432),
        user=u.username or "postgres",
        password=u.password or "",
        pool_size=pool_size,
        max_overflow=0,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="backlynk_events")
    recorder.create_table()
    return datastore, recorder


def run_eventsourcing(url: str, appends: list[list[StoredEvent]], writers: int) -> float:
    datastore, recorder = eventsourcing_recorder(url, pool_size=writers)
    chunks = [appends[i::writers] for i in range(writers)]

    def write(chunk: list[list[StoredEvent]]) -> None:
        for events in chunk:
            recorder.insert_events(events)

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, chunks))
    elapsed = time.perf_counter() - started
    datastore.close()
    return sum(map(len, appends)) / elapsed


async def run_ours(url: str, appends: list[list[StoredEvent]], writers: int) -> float:
    pool = await connect_pool(url, min_size=writers, max_size=writers)
    store = PostgresEventStore(pool)
    chunks = [appends[i::writers] for i in range(writers)]

    async def write(chunk: list[list[StoredEvent]]) -> None:
        for events in chunk:
            await store.append(events)

    started = time.perf_counter()
    await asyncio.gather(*(write(c) for c in chunks))
    elapsed = time.perf_counter() - started
    await pool.close()
    return sum(map(len, appends)) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=3000)
    args = parser.parse_args()
    url = await fresh_database(DB)
    try:
        print(f"event store: {args.appends} appends of 1-3 events each, same database")
        for writers in (1, 16):
            # warm-up, then alternate to share any drift of a noisy machine
            theirs_rate = run_eventsourcing(url, make_appends(args.appends, 1), writers)
            ours_rate = await run_ours(url, make_appends(args.appends, 2), writers)
            theirs_rate = (
                theirs_rate + run_eventsourcing(url, make_appends(args.appends, 3), writers)
            ) / 2
            ours_rate = (
                ours_rate + await run_ours(url, make_appends(args.appends, 4), writers)
            ) / 2
            print(
                f"  {writers:>2} writer(s): ours {ours_rate:8.0f} events/s   "
                f"eventsourcing {theirs_rate:8.0f} events/s   "
                f"ratio {ours_rate / theirs_rate:.2f}x"
            )
    finally:
        await drop_database(DB)


if __name__ == "__main__":
    asyncio.run(main())
