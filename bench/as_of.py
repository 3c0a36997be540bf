"""Time of one `GET /jobs/{id}?as_of=` rebuild (the history read and decoded, the job
folded, its row made) for a big job: from the latest snapshot below the instant against
the events alone, in the same run on the same database.

The job has `--tasks` tasks, each submitted, every other one verified, saved one worker
step at a time as the workers save it (so snapshots fall every 50 versions).

    python bench/as_of.py [--tasks 500] [--runs 7]
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from adapters.repository import EventSourcedRepository
from bench.common import drop_database, fresh_database
from domain.job import Job, Task, TaskStatus
from projections.as_of import job_row_at

DB = "backlynk_bench_as_of"


async def write_job(repo: EventSourcedRepository, tasks: int) -> Job:
    job = Job(
        account_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        period="2026-11",
        tasks=[Task(i, f"Dir {i}", TaskStatus.PENDING) for i in range(1, tasks + 1)],
    )
    job.start()
    await repo.save(job)
    for i in range(1, tasks + 1):
        job.begin_submission(i)
        await repo.save(job)
        job.record_submitted(i, f"https://dir{i}.example/listing")
        await repo.save(job)
        if i % 2:
            job.record_verified(i, uuid.uuid4())
            await repo.save(job)
    return job


async def rebuild_ms(repo: EventSourcedRepository, job: Job, until: datetime) -> float:
    started = time.perf_counter()
    folded, history = await repo.history(job.id, Job, until=until)
    job_row_at(folded, history)
    return 1000 * (time.perf_counter() - started)


async def main(tasks: int, runs: int) -> None:
    url = await fresh_database(DB)
    pool = await connect_pool(url, min_size=1, max_size=4)
    store = PostgresEventStore(pool)
    try:
        snapshots = EventSourcedRepository(store)
        alone = EventSourcedRepository(store, default_interval=0)
        job = await write_job(snapshots, tasks)
        now = datetime.now(UTC)
        print(f"a job of {tasks} tasks and {job.version} events; {runs} runs each, alternating")
        times: dict[str, list[float]] = {"from snapshots": [], "events alone": []}
        for run in range(runs):
            sides = list(zip(times, (snapshots, alone), strict=True))
            for name, repo in sides if run % 2 == 0 else reversed(sides):
                times[name].append(await rebuild_ms(repo, job, now))
        for name, ms in times.items():
            print(f"{name}: median {statistics.median(ms):.0f} ms ({min(ms):.0f}-{max(ms):.0f})")
        ratios = [a / s for s, a in zip(*times.values(), strict=True)]
        print(f"events alone / from snapshots, per run: median {statistics.median(ratios):.1f}x")
    finally:
        await store.close()
        await pool.close()
        await drop_database(DB)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.runs))
