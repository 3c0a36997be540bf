"""Catch-up rate of one projection: the per-event apply (a statement per event) beside the
set-based batch apply (one statement per table per batch: `projections.batch`, through
the runner's `catch_up`, which reads the next batch ahead), with the same batches (the
runner's size unless `--batch-size`), in the same run, on the same database and events.
Each is run `--runs` times; the median and the spread are printed, of the events/s and of
this process's CPU time per event (which a machine shared with other work changes less).

Then what telling the web processes costs (`adapters.read_model_feed`: the projections whose
answers the web processes keep end each batch with one statement that finds the accounts
it wrote and notifies them): the batch apply again with the counters told as their own
accounts, and one event per transaction, as a live runner applies what has just arrived,
untold and told (`--live-events` each).

    python bench/projection.py [--events N] [--runs R] [--batch-size B] [--live-events N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg

from adapters import read_model_feed
from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from bench.common import backend_cpu, drop_database, fresh_database
from projections.base import Owners, Projection, tracking_ddl
from projections.runner import BATCH_SIZE, apply_batch, catch_up, reset
from tests.counter import Counter
from tests.counter_projection import BatchedCounterProjection, CounterProjection

DB = "backlynk_bench_projection"


class ToldCounterProjection(BatchedCounterProjection):
    """The same, telling the web processes each batch's counters, as if each were an
    account (`projections.base.Owners`)."""

    owners = Owners("test_counters", "id", "id")


async def write_events(store: PostgresEventStore, total: int) -> None:
    """Counters of 10 events each (a creation and 9 increments), 1,000 events per append."""
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


class Rate(NamedTuple):
    per_second: float
    cpu_us: float  # this process's CPU time per event, in microseconds
    pg_cpu_us: float  # the database's backends' CPU time per event (nan: not readable)


async def rate(
    conn: asyncpg.Connection,
    store: PostgresEventStore,
    projection: Projection,
    batch_size: int,
    events: int,
) -> Rate:
    """A catch-up from 0: the whole log through `catch_up` (the batch apply), or the
    first `events` batch by batch (the per-event apply: a shorter run)."""
    await reset(conn, projection)
    await conn.execute("VACUUM ANALYZE test_counters, test_counter_log")
    mapper = TypedMapper(MsgspecTranscoder())
    pg_cpu = await backend_cpu(conn)
    started, cpu = time.perf_counter(), time.process_time()
    if hasattr(projection, "apply_batch") and batch_size > 1:
        n = await catch_up(conn, store, projection, batch_size=batch_size, mapper=mapper)
    else:
        n = 0
        while n < events:
            read = await apply_batch(conn, store, mapper, projection, min(batch_size, events - n))
            if not read:
                break
            n += read
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    pg_cpu = await backend_cpu(conn) - pg_cpu
    return Rate(n / wall, cpu / n * 1e6, pg_cpu / n * 1e6)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def summary(rates: list[Rate]) -> str:
    per_second = [r.per_second for r in rates]
    cpu = [r.cpu_us for r in rates]
    pg = [r.pg_cpu_us for r in rates]
    return (
        f"{statistics.median(per_second):8.0f} events/s "
        f"(min {min(per_second):.0f}, max {max(per_second):.0f}, {len(rates)} runs); "
        f"CPU {statistics.median(cpu):.1f} us/event (min {min(cpu):.1f}, max {max(cpu):.1f}), "
        f"Postgres CPU {statistics.median(pg):.1f} us/event (min {min(pg):.1f}, max {max(pg):.1f})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--per-event-events", type=int, default=20_000, help="events of each per-event run"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--live-events", type=int, default=3_000)
    args = parser.parse_args()
    projection = CounterProjection()
    url = await fresh_database(
        DB, [*read_model_feed.DDL, *projection.ddl, *tracking_ddl(projection)]
    )
    pool = await connect_pool(url, max_size=4)
    conn = await asyncpg.connect(url)
    try:
        store = PostgresEventStore(pool)
        await write_events(store, args.events)
        per_event, batched, told = [], [], []
        live, live_told = [], []
        for _ in range(args.runs):  # interleaved: a load that comes and goes hits all
            per_event.append(
                await rate(
                    conn,
                    store,
                    CounterProjection(),
                    args.batch_size,
                    min(args.per_event_events, args.events),
                )
            )
            batched.append(
                await rate(conn, store, BatchedCounterProjection(), args.batch_size, args.events)
            )
            told.append(
                await rate(conn, store, ToldCounterProjection(), args.batch_size, args.events)
            )
            live.append(await rate(conn, store, BatchedCounterProjection(), 1, args.live_events))
            live_told.append(await rate(conn, store, ToldCounterProjection(), 1, args.live_events))
        print(f"projection catch-up, {args.batch_size} events per transaction:")
        print(
            f"  per-event apply ({min(args.per_event_events, args.events)} events): "
            f"{summary(per_event)}"
        )
        print(f"  batch apply     ({args.events} events): {summary(batched)}")
        ratio = statistics.median(r.per_second for r in batched) / statistics.median(
            r.per_second for r in per_event
        )
        print(f"  ratio {ratio:.1f}x; load average {' '.join(map(str, os.getloadavg()))}")
        print(f"  batch apply, told ({args.events} events): {summary(told)}")
        print(f"one event per transaction ({args.live_events} events), as a live runner:")
        print(f"  untold: {summary(live)}")
        print(f"  told:   {summary(live_told)}")
        for name, runs in (
            ("batch", zip(batched, told, strict=True)),
            ("one event", zip(live, live_told, strict=True)),
        ):
            ratios = [t.per_second / b.per_second for b, t in runs]
            print(f"  told / untold, {name}: {_spread(ratios)} (per run, median and min-max)")
    finally:
        await conn.close()
        await pool.close()
        await drop_database(DB)


if __name__ == "__main__":
    asyncio.run(main())
