"""Sign-in under pressure, with the production argon2 parameters: how long /healthz takes
while a flood of sign-ins runs, against an idle process (a ratio), how much of the flood
is refused at once (429) rather than queued, how many password checks a 20-way burst
of wrong passwords for one email gets (the limit is 5), and how long a sign-in with an
unknown email takes against one with a wrong password (a ratio near 1: the answer's time
does not tell which emails have accounts; tests/test_auth_api.py checks the dummy hash).

    python bench/auth.py [--flood 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aiohttp
import msgspec
import uvicorn

from adapters import settings as settings_module
from adapters.infrastructure import open_infrastructure
from api.app import create_app
from bench.common import drop_database, fresh_database

DB = "backlynk_bench_auth"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def login_time(http: aiohttp.ClientSession, email: str, password: str) -> float:
    started = time.perf_counter()
    assert await login(http, email, password, "10.99.0.1") == 401
    return time.perf_counter() - started


async def healthz_times(http: aiohttp.ClientSession, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        async with http.get("/healthz") as r:
            assert r.status == 200
        times.append(time.perf_counter() - started)
    return times


async def login(http: aiohttp.ClientSession, email: str, password: str, ip: str) -> int:
    body = {"email": email, "password": password}
    async with http.post("/api/v1/auth/login", json=body, headers={"X-Forwarded-For": ip}) as r:
        await r.read()
        return r.status


def spread(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"median {statistics.median(ms):.1f} ms (min {ms[0]:.1f}, max {ms[-1]:.1f})"


async def main(flood: int, rounds: int) -> None:
    url = await fresh_database(DB)
    namespace = f"bench-auth-{uuid.uuid4().hex[:8]}"
    settings = settings_module.load(
        {**os.environ, "DATABASE_URL": url, "BACKLYNK_DEV": "1", "JWT_SECRET": "b" * 48}
    )
    settings = msgspec.structs.replace(settings, redis_namespace=namespace, register_rate=1000)
    infra = await open_infrastructure(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, infra=infra), port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            async with http.post(
                "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
            ) as r:
                assert r.status == 201, await r.text()
            # another account for the timing: the burst below spends `email`'s 5 attempts
            known = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            async with http.post(
                "/api/v1/auth/register", json={"email": known, "password": PASSWORD}
            ) as r:
                assert r.status == 201, await r.text()
            wrong, unknown = [], []
            for i in range(4):  # alternating, so that other load hits both sides alike
                wrong.append(await login_time(http, known, f"wrong-{i}-password"))
                ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
                unknown.append(await login_time(http, ghost, PASSWORD))
            idle, busy, refused, admitted = [], [], [], []
            for _ in range(rounds):
                idle += await healthz_times(http, 20)
                logins = [
                    asyncio.ensure_future(
                        login(http, f"x{i}-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, ip)
                    )
                    for i, ip in enumerate(f"192.0.2.{n % 250 + 1}" for n in range(flood))
                ]
                await asyncio.sleep(0)
                busy += await healthz_times(http, 20)
                statuses = await asyncio.gather(*logins)
                refused.append(statuses.count(429))
                admitted.append(statuses.count(401))
            burst = await asyncio.gather(
                *(login(http, email, "wrong password", "198.51.100.1") for _ in range(20))
            )
        print(f"sign-in, wrong password:  {spread(wrong)}")
        print(f"sign-in, unknown email:   {spread(unknown)}")
        ratio = statistics.median(unknown) / statistics.median(wrong)
        print(f"  ratio unknown/wrong (median): {ratio:.2f}")
        print(f"/healthz idle:            {spread(idle)}")
        print(f"/healthz during a flood of {flood} sign-ins: {spread(busy)}")
        ratio = statistics.median(busy) / statistics.median(idle)
        print(f"  ratio busy/idle (median): {ratio:.1f}")
        print(f"flood answers per round: refused (429) {refused}, hashed (401) {admitted}")
        print(f"20-way wrong-password burst, one email: {20 - burst.count(429)} password checks")
    finally:
        server.should_exit = True
        await task
        await infra.close()
        await drop_database(DB)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.flood, args.rounds))
