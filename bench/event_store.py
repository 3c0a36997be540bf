"""Events appended per second: our asyncpg store vs eventsourcing's
PostgresApplicationRecorder, on the same database in the same run, with 1 writer and with
16 concurrent writers. Each append is one new aggregate with 1-3 events of 160 bytes. Both
sides run on the same server with its durability settings (printed), with a pool of as
many connections as writers, over the same generated appends; each run measures both, and
the bench prints every run, then the median and the spread (min-max) of rates and ratios.

    python bench/event_store.py [--appends 2000] [--runs 5] [--writers 1,16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg
from eventsourcing.persistence import StoredEvent

from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from bench.common import drop_database, fresh_database

# one per run: two runs at once (another checkout) must not drop each other's database
DB = f"backlynk_bench_event_store_{os.getpid()}"
TOPIC = "bench:Thing.Happened"
EVENT_BYTES = 160


def make_appends(n: int, seed: int) -> list[list[StoredEvent]]:
    """`n` appends, each one new aggregate with 1-3 events; the same seed gives the same
    shapes and payloads (the aggregate ids are fresh, so both sides can write them)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        agg = uuid.uuid4()
        out.append(
            [
                StoredEvent(agg, v, TOPIC, rng.randbytes(EVENT_BYTES))
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
    await store.close()
    await pool.close()
    return sum(map(len, appends)) / elapsed


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return (
        f"median {fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}-{fmt.format(max(values))})"
    )


async def durability(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name = ANY($1) ORDER BY name",
            ["fsync", "synchronous_commit", "commit_delay"],
        )
    finally:
        await conn.close()
    return ", ".join(f"{r[0]}={r[1]}" for r in rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writers", default="1,16")
    args = parser.parse_args()
    url = await fresh_database(DB)
    try:
        print(
            f"event store: {args.appends} appends of 1-3 events of {EVENT_BYTES} bytes per run, "
            f"same database ({await durability(url)}, both sides), {args.runs} runs; "
            "each run measures both sides on the same generated appends, in alternating order"
        )
        summary = []
        for writers in map(int, args.writers.split(",")):
            print(f"{writers} writer(s), pool of {writers} connections on both sides")
            # warm-up: pools, prepared statements, table and index pages
            run_eventsourcing(url, make_appends(200, 0), writers)
            await run_ours(url, make_appends(200, 0), writers)
            ours_rates, theirs_rates, ratios = [], [], []
            for run in range(1, args.runs + 1):
                seed = run * 1000 + writers
                if run % 2:
                    theirs = run_eventsourcing(url, make_appends(args.appends, seed), writers)
                    ours = await run_ours(url, make_appends(args.appends, seed), writers)
                else:
                    ours = await run_ours(url, make_appends(args.appends, seed), writers)
                    theirs = run_eventsourcing(url, make_appends(args.appends, seed), writers)
                ours_rates.append(ours)
                theirs_rates.append(theirs)
                ratios.append(ours / theirs)
                print(
                    f"  run {run}: ours {ours:8.0f} events/s   eventsourcing {theirs:8.0f} "
                    f"events/s   ratio {ours / theirs:.2f}x"
                )
            line = (
                f"{writers:>2} writer(s): ours {spread(ours_rates)} events/s, eventsourcing "
                f"{spread(theirs_rates)} events/s, ratio {spread(ratios, '{:.2f}x')}"
            )
            print("  " + line)
            summary.append(line)
        print("summary (median of runs, min-max in brackets):")
        for line in summary:
            print("  " + line)
    finally:
        await drop_database(DB)


if __name__ == "__main__":
    asyncio.run(main())
