"""Jobs through the whole system: 200 jobs x 5 sandbox directories, created over HTTP,
dispatched by the projector, submitted and verified by real `backlynk worker` processes.
Prints tasks/s and the p50/p95 time from job creation to completion.

    python bench/jobs.py [--jobs 200] [--workers 2]

Each directory is served on its own port (as separate directory servers would be), the
per-host delay is off and 16 submissions may be in flight.
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
from bench.common import drop_database, fresh_database
from domain.directory import parse_catalogue
from domain.services.accounts import create_account

DB = "backlynk_bench_jobs"
DIRECTORIES = [1, 2, 3, 4, 5]
JOBS_PER_ACCOUNT = 100  # an agency account: 100 sites, 600 submissions a month


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve_sandbox() -> tuple[list[web.AppRunner], dict[int, str]]:
    app = build_app()
    runners, bases = [], {}
    for directory_id in (d.id for d in SANDBOX_DIRECTORIES):  # one server each
        runner = web.AppRunner(app if directory_id == 1 else build_app(), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        bases[directory_id] = f"http://127.0.0.1:{port}"
    return runners, bases


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    url = await fresh_database(DB)
    namespace = f"bench:{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BACKLYNK_REDIS_NAMESPACE": namespace,
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
        for _ in range(args.workers)
    ]
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        ports = auth_ports(infra)
        accounts = -(-args.jobs // JOBS_PER_ACCOUNT)
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
            for n in range(args.jobs):
                async with http.post(
                    "/api/v1/sites",
                    headers=headers[n // JOBS_PER_ACCOUNT],
                    json={"url": f"https://site{n}.example.com/", "name": f"Site {n}"},
                ) as r:
                    site_ids.append((await r.json())["id"])

            async def create(n: int) -> None:
                async with http.post(
                    "/api/v1/jobs",
                    headers=headers[n // JOBS_PER_ACCOUNT],
                    json={"site_id": site_ids[n], "directory_ids": DIRECTORIES},
                ) as r:
                    assert r.status == 202, await r.text()

            started = time.perf_counter()
            sem = asyncio.Semaphore(20)

            async def limited(n: int) -> None:
                async with sem:
                    await create(n)

            await asyncio.gather(*(limited(n) for n in range(args.jobs)))
            created_s = time.perf_counter() - started
            while True:
                done = await infra.pool.fetchval(
                    "SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL"
                )
                if done >= args.jobs:
                    break
                if time.perf_counter() - started > 900:
                    raise SystemExit(f"only {done} of {args.jobs} jobs finished in 15 min")
                await asyncio.sleep(0.2)
        rows = await infra.pool.fetch(
            "SELECT extract(epoch FROM finished_at - created_at) AS s, status FROM jobs"
        )
        span = await infra.pool.fetchval(
            "SELECT extract(epoch FROM max(finished_at) - min(created_at)) FROM jobs"
        )
        tasks = await infra.pool.fetch("SELECT status, count(*) FROM job_tasks GROUP BY 1")
        durations = sorted(float(r["s"]) for r in rows)
        p50 = statistics.median(durations)
        p95 = durations[int(0.95 * (len(durations) - 1))]
        total_tasks = args.jobs * len(DIRECTORIES)
        print(
            f"jobs: {args.jobs} jobs x {len(DIRECTORIES)} directories = {total_tasks} tasks, "
            f"{args.workers} worker process(es)"
        )
        print(
            f"  created in {created_s:.1f}s; all finished {float(span):.1f}s after the first "
            f"was created"
        )
        print(
            f"  throughput {total_tasks / float(span):.1f} tasks/s; creation->completion "
            f"p50 {p50:.2f}s p95 {p95:.2f}s"
        )
        print(f"  task states: {dict((r[0], r[1]) for r in tasks)}")
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


if __name__ == "__main__":
    asyncio.run(main())
