"""Jobs through the whole system, and how throughput grows with worker processes: for each
worker count, 200 jobs x 5 sandbox directories are created over HTTP, dispatched by the
projector, submitted and verified by that many real `backlynk worker` processes (arq, on
Redis). Prints each run's tasks/s and p50/p95 time from job creation to completion, then
per worker count the median and spread, and the speed-up over the first count measured in
the same round.

    python bench/jobs.py [--jobs 200] [--workers 1,2,4] [--rounds 3]

Each run has a fresh database, Redis namespace, service and workers; the worker counts take
turns within a round, so a machine that gets busier slows them all alike. The clock starts
once every worker process is connected to Postgres (its start-up done), not before: the
time to start more processes is not counted as slower work. Each directory is served on its
own port (as separate directory servers would be), the per-host delay is off and 16
submissions may be in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aiohttp
import msgspec
import uvicorn
from aiohttp import web

from adapters import settings as settings_module
from adapters.demo.sandbox import DIRECTORIES as SANDBOX_DIRECTORIES
from adapters.demo.sandbox import build_app, catalogue
from adapters.directories import upsert
from adapters.infrastructure import open_infrastructure
from adapters.wiring import auth_ports
from api.app import create_app
from bench.common import drop_database, fresh_database, stop_cleanly_on_sigterm
from domain.directory import parse_catalogue
from domain.services.accounts import create_account

DB = "backlynk_bench_jobs"
DIRECTORIES = [1, 2, 3, 4, 5]
JOBS_PER_ACCOUNT = 100  # an agency account: 100 sites, 600 submissions a month


@dataclass
class Run:
    workers: int
    tasks: int
    seconds: float  # first job created -> last job finished
    p50: float
    p95: float
    states: dict[str, int]

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connected_to(pid: int, port: int) -> bool:
    """Whether process `pid` has a TCP connection to `port` (Linux /proc): a worker opens
    its Postgres pool at the end of its start-up, just before it takes jobs."""
    try:
        sockets = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    except (FileNotFoundError, PermissionError):
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and (
                f"socket:[{fields[9]}]" in sockets
            ):
                return True
    return False


async def serve_sandbox() -> tuple[list[web.AppRunner], dict[int, str]]:
    runners, bases = [], {}
    for directory_id in (d.id for d in SANDBOX_DIRECTORIES):  # one server each
        runner = web.AppRunner(build_app(), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        bases[directory_id] = f"http://127.0.0.1:{port}"
    return runners, bases


async def one_run(jobs: int, worker_count: int) -> Run:
    url = await fresh_database(DB)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BACKLYNK_REDIS_NAMESPACE": f"bench:{uuid.uuid4().hex[:8]}",
        "BACKLYNK_FETCH_ALLOW_CIDRS": "127.0.0.0/8",
        "BACKLYNK_HOST_DELAY": "0",
        "BACKLYNK_SUBMIT_CONCURRENCY": "16",
        "JWT_SECRET": uuid.uuid4().hex * 2,
        "BACKLYNK_VERIFY_SITES": "0",
    }
    settings = settings_module.load(env)
    runners, bases = await serve_sandbox()
    infra = await open_infrastructure(settings, pool_size=20)
    async with infra.pool.acquire() as conn:
        await upsert(conn, parse_catalogue(msgspec.json.encode(catalogue(bases))))
    app = create_app(settings, infra=infra, in_process_projector=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "backlynk_cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(worker_count)
    ]
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        ports = auth_ports(infra)
        accounts = -(-jobs // JOBS_PER_ACCOUNT)
        headers = []
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            for i in range(accounts):
                email = f"bench{i}-{uuid.uuid4().hex[:6]}@example.com"
                await create_account(
                    ports, email, "bench-password-1", name=None, plan_code="agency"
                )
                async with http.post(
                    "/api/v1/auth/login", json={"email": email, "password": "bench-password-1"}
                ) as r:
                    token = (await r.json())["access_token"]
                headers.append({"Authorization": f"Bearer {token}"})
            site_ids = []
            for n in range(jobs):
                async with http.post(
                    "/api/v1/sites",
                    headers=headers[n // JOBS_PER_ACCOUNT],
                    json={"url": f"https://site{n}.example.com/", "name": f"Site {n}"},
                ) as r:
                    site_ids.append((await r.json())["id"])

            postgres_port = urlsplit(url).port or 5432
            deadline = time.monotonic() + 120
            while not all(connected_to(w.pid, postgres_port) for w in workers):
                if any(w.poll() is not None for w in workers):
                    raise SystemExit("a worker process ended during start-up")
                if time.monotonic() > deadline:
                    raise SystemExit("the workers did not start within 2 min")
                await asyncio.sleep(0.1)

            sem = asyncio.Semaphore(20)

            async def create(n: int) -> None:
                async with (
                    sem,
                    http.post(
                        "/api/v1/jobs",
                        headers=headers[n // JOBS_PER_ACCOUNT],
                        json={"site_id": site_ids[n], "directory_ids": DIRECTORIES},
                    ) as r,
                ):
                    assert r.status == 202, await r.text()

            started = time.perf_counter()
            await asyncio.gather(*(create(n) for n in range(jobs)))
            while True:
                done = await infra.pool.fetchval(
                    "SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL"
                )
                if done >= jobs:
                    break
                if time.perf_counter() - started > 900:
                    raise SystemExit(f"only {done} of {jobs} jobs finished in 15 min")
                await asyncio.sleep(0.2)
        rows = await infra.pool.fetch(
            "SELECT extract(epoch FROM finished_at - created_at) AS s FROM jobs"
        )
        span = await infra.pool.fetchval(
            "SELECT extract(epoch FROM max(finished_at) - min(created_at)) FROM jobs"
        )
        states = await infra.pool.fetch("SELECT status, count(*) FROM job_tasks GROUP BY 1")
        durations = sorted(float(r["s"]) for r in rows)
        return Run(
            workers=worker_count,
            tasks=jobs * len(DIRECTORIES),
            seconds=float(span),
            p50=statistics.median(durations),
            p95=durations[int(0.95 * (len(durations) - 1))],
            states={r[0]: r[1] for r in states},
        )
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=30)
        server.should_exit = True
        await serving
        await infra.close()
        for runner in runners:
            await runner.cleanup()
        await drop_database(DB)


def spread(values: list[float], unit: str = "") -> str:
    return f"median {statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, e.g. 1,2,4")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    counts = [int(n) for n in args.workers.split(",")]
    if not counts or min(counts) < 1:
        raise SystemExit("--workers: one or more counts of at least 1, e.g. 1,2,4")

    print(
        f"jobs: {args.jobs} jobs x {len(DIRECTORIES)} directories = "
        f"{args.jobs * len(DIRECTORIES)} tasks per run; worker processes {counts}; "
        f"{args.rounds} rounds (each: every count in turn)"
    )
    runs: dict[int, list[Run]] = {n: [] for n in counts}
    speedups: dict[int, list[float]] = {n: [] for n in counts}
    for round_no in range(1, args.rounds + 1):
        first: Run | None = None
        for n in counts:
            run = await one_run(args.jobs, n)
            first = first or run
            runs[n].append(run)
            speedups[n].append(run.rate / first.rate)
            print(
                f"  round {round_no}, {n} worker(s): {run.rate:6.1f} tasks/s "
                f"({run.tasks} in {run.seconds:.1f}s); creation->completion "
                f"p50 {run.p50:.2f}s p95 {run.p95:.2f}s; tasks {run.states}",
                flush=True,
            )
    print(f"throughput by worker processes over {args.rounds} rounds:")
    for n in counts:
        print(
            f"  {n} worker(s): tasks/s {spread([r.rate for r in runs[n]])}; "
            f"vs {counts[0]} per round {spread(speedups[n], 'x')}; "
            f"p95 {spread([r.p95 for r in runs[n]], 's')}"
        )


if __name__ == "__main__":
    asyncio.run(main())
