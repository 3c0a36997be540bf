"""Job streams: many open streams on one web process, and the time from an event's commit
to its arrival at every client watching the job.

Starts `backlynk serve` (one web process) and `backlynk projector` on a fresh database,
signs the demo account in, creates `--jobs` jobs for it straight through the event store,
opens `--streams` streams spread evenly over them (aiohttp, one connection each), then
for `--duration` seconds changes random jobs at `--rate` commits per second through the
repository (a task marked submitting, then back to pending: what a worker does). Each
commit's time is taken as its save begins (so the figures include the save's own round
trip: its end can reach this loop after the stream's event does); each client that
watches the job notes when an event at or past the commit's position arrives (an event
may cover several commits: the projector and the stream coalesce). Prints p50, p99 and
the maximum over every (commit, client) pair, and how many pairs never arrived.

    python bench/stream.py [--streams 1000] [--jobs 100] [--rate 50] [--duration 20]

The clients and the writer share this process's event loop: on a busy or small machine
the figures include their own scheduling delays; compare runs of one machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aiohttp

from adapters.demo import DEMO_EMAIL, DEMO_PASSWORD
from adapters.infrastructure import open_infrastructure
from adapters.settings import load
from bench.api import Processes, call, free_port, wait_for
from bench.common import drop_database, fresh_database, stop_cleanly_on_sigterm
from domain import ids
from domain.job import Job, Task, TaskStatus
from domain.quota import period_of

DB = "backlynk_bench_stream"


class Watch:
    """One client's stream of one job, and the commits of that job it has yet to see."""

    def __init__(self, job: str, commits: list[tuple[int, float]]):
        self.job, self.commits, self.next = job, commits, 0
        self.latencies: list[float] = []
        self.ready = asyncio.Event()  # the first event came, or the stream failed
        self.error: str | None = None

    def received(self, position: int, at: float) -> None:
        while self.next < len(self.commits) and self.commits[self.next][0] <= position:
            self.latencies.append(at - self.commits[self.next][1])
            self.next += 1


async def follow(http: aiohttp.ClientSession, base: str, watch: Watch) -> None:
    try:
        async with http.get(f"{base}/api/v1/jobs/{watch.job}/stream") as r:
            if r.status != 200:
                raise RuntimeError(f"refused: {r.status} {await r.text()}")
            event_id = None
            async for raw in r.content:
                line = raw.rstrip(b"\n")
                if line.startswith(b"id: "):
                    event_id = int(line[4:])
                elif not line and event_id is not None:
                    watch.received(event_id, time.monotonic())
                    watch.ready.set()
                    event_id = None
            raise RuntimeError("the stream ended")
    except (RuntimeError, aiohttp.ClientError) as failed:
        watch.error = repr(failed)
        watch.ready.set()


async def run(args: argparse.Namespace, base: str, env: dict[str, str]) -> None:
    token = call(
        base, "POST", "/api/v1/auth/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )["access_token"]
    me = call(base, "GET", "/api/v1/users/me", Authorization=f"Bearer {token}")
    account_id = ids.decode("usr", me["id"])
    settings = load({**os.environ, **env})
    infra = await open_infrastructure(settings)
    repo = infra.repository
    try:
        jobs = []
        for _ in range(args.jobs):
            job = Job(
                account_id=account_id,
                site_id=uuid.uuid4(),
                period=period_of(infra.clock.now()),
                tasks=[Task(1, "Bench directory", TaskStatus.PENDING)],
            )
            await repo.save(job)
            jobs.append(job.id)
        commits: dict[object, list[tuple[int, float]]] = {j: [] for j in jobs}
        watches = [
            Watch(ids.encode("job", jobs[i % len(jobs)]), commits[jobs[i % len(jobs)]])
            for i in range(args.streams)
        ]
        connector = aiohttp.TCPConnector(limit=0)
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=timeout
        ) as http:
            started = time.monotonic()
            followers = [asyncio.create_task(follow(http, base, w)) for w in watches]
            async with asyncio.timeout(300):
                await asyncio.gather(*(w.ready.wait() for w in watches))
            for watch in watches:
                if watch.error:
                    raise SystemExit(f"a stream failed: {watch.error}")
            print(
                f"{args.streams} streams open on one web process over {args.jobs} jobs "
                f"({time.monotonic() - started:.1f} s to open them all)"
            )

            submitting: set[object] = set()
            interval = 1 / args.rate
            deadline = time.monotonic() + args.duration
            made = 0
            while time.monotonic() < deadline:
                tick = time.monotonic()
                job_id = random.choice(jobs)
                job = await repo.get(job_id, Job)
                if job_id in submitting:
                    job.retry_later(1, "bench", "a bench change")
                    submitting.discard(job_id)
                else:
                    job.begin_submission(1)
                    submitting.add(job_id)
                saving = time.monotonic()
                position = await repo.save(job)
                commits[job_id].append((position, saving))
                made += 1
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
            # let the last commits arrive (bounded), then close every stream
            expected = sum(len(commits[ids.decode("job", w.job)]) for w in watches)
            settle = time.monotonic() + 30
            while time.monotonic() < settle:
                if sum(len(w.latencies) for w in watches) >= expected:
                    break
                await asyncio.sleep(0.1)
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
        latencies = sorted(x for w in watches for x in w.latencies)
        missing = expected - len(latencies)
        print(
            f"{made} commits in {args.duration} s ({made / args.duration:.0f}/s), "
            f"{len(latencies)} deliveries (commit x client), {missing} never arrived"
        )
        if latencies:
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
            print(
                f"commit -> client receipt: p50 {p50:.1f} ms  p99 {p99:.1f} ms  "
                f"max {latencies[-1] * 1000:.1f} ms"
            )
    finally:
        await infra.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50, help="commits per second")
    parser.add_argument("--duration", type=int, default=20, help="seconds of commits")
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    url = asyncio.run(fresh_database(DB))
    logdir = Path(tempfile.mkdtemp(prefix="bench_stream_"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BACKLYNK_")},
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "DATABASE_URL": url,
        "BACKLYNK_REDIS_NAMESPACE": f"bench-stream-{secrets.token_hex(4)}",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "HOST": "127.0.0.1",
        "BACKLYNK_VERIFY_SITES": "0",
        "BACKLYNK_MAX_STREAMS": str(args.streams + 10),
        "BACKLYNK_STREAMS_PER_ACCOUNT": str(args.streams + 10),
    }
    procs = Processes(env, logdir)
    print(f"logs in {logdir}")
    try:
        procs.backlynk("demo", "load")
        port = free_port()
        procs.start("projector", [sys.executable, "-m", "backlynk_cli", "projector"])
        procs.start(
            "web",
            [sys.executable, "-m", "backlynk_cli", "serve", "--port", str(port)],
            WEB_CONCURRENCY="1",
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/readyz")
        asyncio.run(run(args, base, env))
    finally:
        procs.stop_all()
        asyncio.run(drop_database(DB))


if __name__ == "__main__":
    main()
