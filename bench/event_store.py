"""Events appended per second: our asyncpg store vs eventsourcing's
PostgresApplicationRecorder, on the same database in the same run, with 1 writer and with
16 concurrent writers. Each append is one new aggregate with 1-3 events of 160 bytes. Both
sides run on the same server with its durability settings (printed), with a pool of as
many connections as writers (all open before the clock starts), over the same generated
appends; each run measures both, and the bench prints every run, then the median and the
spread (min-max) of rates and ratios. Rates follow the machine's load, so each run also
prints the CPU time per event of the bench process (the client: encoding, the driver, the
event loop or threads) and of the server backends the side used (from /proc, when the
server runs on this machine), which the load changes far less.

    python bench/event_store.py [--appends 2000] [--runs 5] [--writers 1,16] [--loop asyncio]

Our side runs on asyncio's own event loop unless `--loop uvloop` (what `backlynk serve`
runs the web processes on when uvloop is installed).
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
from dataclasses import dataclass
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


@dataclass
class Measured:
    rate: float  # events/s
    client_us: float  # CPU µs per event of this process
    server_us: float | None  # CPU µs per event of the side's server backends


class ServerCpu:
    """CPU time of the bench database's client backends, from /proc/<pid>/schedstat
    (None when the server is not on this machine). The admin connection is left out."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def read(self) -> dict[int, float] | None:
        pids = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return self.of([pid for (pid,) in pids])

    @staticmethod
    def of(pids: list[int]) -> dict[int, float] | None:
        out = {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/schedstat") as f:
                    out[pid] = int(f.read().split()[0]) / 1e9
            except FileNotFoundError:
                continue  # ended since
            except OSError:
                return None
        return out

    @staticmethod
    def spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        if before is None or after is None:
            return None
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def measured(events: int, elapsed: float, client: float, server: float | None) -> Measured:
    return Measured(
        events / elapsed, 1e6 * client / events, None if server is None else 1e6 * server / events
    )


async def run_eventsourcing(
    url: str, appends: list[list[StoredEvent]], writers: int, cpu: ServerCpu
) -> Measured:
    datastore, recorder = eventsourcing_recorder(url, pool_size=writers)
    datastore.pool.wait()  # every connection open before the clock starts, as on our side
    chunks = [appends[i::writers] for i in range(writers)]

    def write(chunk: list[list[StoredEvent]]) -> None:
        for events in chunk:
            recorder.insert_events(events)

    before = await cpu.read()
    client = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, chunks))
    elapsed = time.perf_counter() - started
    client = time.process_time() - client
    server = ServerCpu.spent(before, await cpu.read())
    datastore.close()
    return measured(sum(map(len, appends)), elapsed, client, server)


async def run_ours(
    url: str, appends: list[list[StoredEvent]], writers: int, cpu: ServerCpu
) -> Measured:
    pool = await connect_pool(url, min_size=writers, max_size=writers)
    store = PostgresEventStore(pool)
    chunks = [appends[i::writers] for i in range(writers)]

    async def write(chunk: list[list[StoredEvent]]) -> None:
        for events in chunk:
            await store.append(events)

    before = await cpu.read()
    client = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(write(c) for c in chunks))
    elapsed = time.perf_counter() - started
    client = time.process_time() - client
    server = ServerCpu.spent(before, await cpu.read())
    await store.close()
    await pool.close()
    return measured(sum(map(len, appends)), elapsed, client, server)


def cpu_text(m: Measured) -> str:
    server = "n/a" if m.server_us is None else f"{m.server_us:.0f}"
    return f"{m.client_us:.0f}+{server}"


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


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writers", default="1,16")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    url = await fresh_database(DB)
    admin = await asyncpg.connect(url)
    cpu = ServerCpu(admin)
    try:
        print(
            f"event store: {args.appends} appends of 1-3 events of {EVENT_BYTES} bytes per run, "
            f"same database ({await durability(url)}, both sides), {args.runs} runs; "
            "each run measures both sides on the same generated appends, in alternating order; "
            f"ours on the {args.loop} event loop"
        )
        summary = []
        for writers in map(int, args.writers.split(",")):
            print(f"{writers} writer(s), pool of {writers} connections on both sides")
            # warm-up: pools, prepared statements, table and index pages
            await run_eventsourcing(url, make_appends(200, 0), writers, cpu)
            await run_ours(url, make_appends(200, 0), writers, cpu)
            ours_runs: list[Measured] = []
            theirs_runs: list[Measured] = []
            ratios, cpu_ratios = [], []
            for run in range(1, args.runs + 1):
                seed = run * 1000 + writers
                if run % 2:
                    theirs = await run_eventsourcing(
                        url, make_appends(args.appends, seed), writers, cpu
                    )
                    ours = await run_ours(url, make_appends(args.appends, seed), writers, cpu)
                else:
                    ours = await run_ours(url, make_appends(args.appends, seed), writers, cpu)
                    theirs = await run_eventsourcing(
                        url, make_appends(args.appends, seed), writers, cpu
                    )
                ours_runs.append(ours)
                theirs_runs.append(theirs)
                ratios.append(ours.rate / theirs.rate)
                cpu_ratio = ""
                if ours.server_us is not None and theirs.server_us is not None:
                    cpu_ratios.append(
                        (theirs.client_us + theirs.server_us) / (ours.client_us + ours.server_us)
                    )
                    cpu_ratio = f" (eventsourcing/ours {cpu_ratios[-1]:.2f}x)"
                print(
                    f"  run {run}: ours {ours.rate:8.0f} events/s   eventsourcing "
                    f"{theirs.rate:8.0f} events/s   ratio {ours.rate / theirs.rate:.2f}x   "
                    f"CPU us/event client+server: ours {cpu_text(ours)}, eventsourcing "
                    f"{cpu_text(theirs)}{cpu_ratio}"
                )
            line = (
                f"{writers:>2} writer(s): ours {spread([m.rate for m in ours_runs])} events/s, "
                f"eventsourcing {spread([m.rate for m in theirs_runs])} events/s, "
                f"ratio {spread(ratios, '{:.2f}x')}"
            )
            for side, runs in (("ours", ours_runs), ("eventsourcing", theirs_runs)):
                line += f"\n     CPU us/event {side}: client {spread([m.client_us for m in runs])}"
                if all(m.server_us is not None for m in runs):
                    line += f", server {spread([m.server_us or 0.0 for m in runs])}"
            if cpu_ratios:
                line += f"\n     CPU per event, eventsourcing/ours: {spread(cpu_ratios, '{:.2f}x')}"
            print("  " + line)
            summary.append(line)
        print("summary (median of runs, min-max in brackets):")
        for line in summary:
            print("  " + line)
    finally:
        await admin.close()
        await drop_database(DB)


if __name__ == "__main__":
    args = arguments()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main(args))
    else:
        asyncio.run(main(args))
