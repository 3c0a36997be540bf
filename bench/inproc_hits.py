"""CPU of a read-cache hit inside one process, without HTTP: the app is called as an ASGI
app by 32 concurrent callers, each repeating one cached read, and the process's CPU
(`time.process_time`) per request is printed, next to a bare Starlette hello-world called
the same way in the same process.

What `bench/api.py` measures end to end (uvicorn, wrk, the kernel) is the same for both
sides; this leaves it out, so that the part the service adds — middleware, credential
check, versions read, cache lookup, access log, metrics — is what moves the figure, with
less noise than a load generator on the same cores. Started as `backlynk serve` starts
the app (its settings, the start-up frozen, logging configured), with the projector in
the process for the seeding only; the database is a throw-away one.

    python bench/inproc_hits.py [--requests 20000] [--rounds 5] [--callers 32]
                                [--routes /api/v1/users/me,/api/v1/sites] [--profile]

`--profile` runs the measured loop without pauses for `py-spy record --pid`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import msgspec
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters import settings as settings_module
from adapters.demo import DEMO_EMAIL, DEMO_PASSWORD
from adapters.log_format import configure_logging
from bench.common import drop_database, fresh_database

DB = f"backlynk_bench_inproc_{os.getpid()}"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def _hello(request: Any) -> JSONResponse:
    return JSONResponse({"hello": "world"})


HELLO = Starlette(routes=[Route("/", _hello)])


def scope_of(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """What uvicorn (httptools) hands the app for one request."""
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "state": {},
    }


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # a disconnect that never comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope_of(method, path, headers), receive, send)
    return status, b"".join(chunks)


async def json_call(app: Any, method: str, path: str, body: Any = None, **headers: str) -> Any:
    raw = b"" if body is None else msgspec.json.encode(body)
    status, answer = await call(
        app, method, path, {"content-type": "application/json", **headers}, raw
    )
    if status >= 400:
        raise SystemExit(f"{method} {path}: {status} {answer.decode()}")
    return msgspec.json.decode(answer) if answer else None


async def hammer(app: Any, path: str, headers: dict[str, str], n: int, callers: int) -> float:
    """µs of process CPU per request, `n` requests by `callers` concurrent callers."""
    scope_headers = headers
    each = n // callers

    async def one() -> None:
        for _ in range(each):
            status, _ = await call(app, "GET", path, scope_headers)
            if status != 200:
                raise SystemExit(f"{path}: {status}")

    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(callers)))
    return (time.process_time() - started) * 1e6 / (each * callers)


@contextlib.asynccontextmanager
async def seeded_app() -> AsyncIterator[tuple[Any, dict[str, dict[str, str]]]]:
    """The app, started as `backlynk serve` starts it on a fresh database holding the demo
    account (and a site), with the credentials to read as it: an API key and a Bearer
    token."""
    from api.app import create_app

    url = await fresh_database(DB)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BACKLYNK_")},
        "DATABASE_URL": url,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "BACKLYNK_REDIS_NAMESPACE": f"bench-inproc-{secrets.token_hex(4)}",
        "BACKLYNK_READ_CACHE_MB": "64",
        "BACKLYNK_VERIFY_SITES": "0",
        "PYTHONPATH": ROOT,
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "backlynk_cli", "demo", "load"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        app = create_app(
            settings_module.load(env), in_process_projector=False, freeze_start_up=True
        )
        # the projector runs beside the app while it is seeded, then stops: its polls
        # would count too if it ran in the process
        projector = subprocess.Popen(
            [sys.executable, "-m", "backlynk_cli", "projector"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with app.router.lifespan_context(app):
            try:
                signed_in = await json_call(
                    app,
                    "POST",
                    "/api/v1/auth/login",
                    {"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
                )
                bearer = {"Authorization": f"Bearer {signed_in['access_token']}"}
                made = await json_call(app, "POST", "/api/v1/api-keys", {"name": "b"}, **bearer)
                await json_call(
                    app,
                    "POST",
                    "/api/v1/sites",
                    {"url": f"https://bench-{secrets.token_hex(4)}.com", "name": "Bench"},
                    **bearer,
                )
            finally:
                projector.terminate()
                projector.wait()
            yield app, {"api_key": {"X-Api-Key": made["key"]}, "bearer": bearer}
    finally:
        await drop_database(DB)


async def measure(
    app: Any, credentials: dict[str, dict[str, str]], args: argparse.Namespace
) -> dict[str, list[float]]:
    """µs per request of each route and credential, and of the hello-world, by round."""
    routes = args.routes.split(",")
    for route in routes:  # warm: the first read of each is a miss
        for headers in credentials.values():
            await hammer(app, route, headers, args.callers * 4, args.callers)
    await hammer(HELLO, "/", {}, args.callers * 4, args.callers)
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        results.setdefault("hello-world", []).append(
            await hammer(HELLO, "/", {}, args.requests, args.callers)
        )
        for route in routes:
            for via, headers in credentials.items():
                results.setdefault(f"{route} {via}", []).append(
                    await hammer(app, route, headers, args.requests, args.callers)
                )
    return results


def report(results: dict[str, list[float]], rounds: int) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"µs of process CPU per request, median (min-max) of {rounds}; load {load}")
    for name, values in results.items():
        print(f"  {name:32} {statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})")


async def main(args: argparse.Namespace) -> None:
    async with seeded_app() as (app, credentials):
        if args.profile:
            print(f"pid {os.getpid()}: profiling loop", flush=True)
            deadline = time.monotonic() + args.profile
            while time.monotonic() < deadline:
                for route in args.routes.split(","):
                    for headers in credentials.values():
                        await hammer(app, route, headers, args.requests, args.callers)
            return
        report(await measure(app, credentials, args), args.rounds)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--routes", default="/api/v1/users/me,/api/v1/sites")
    parser.add_argument("--profile", type=float, default=0.0, help="seconds of profiling loop")
    return parser


def run(main: Callable[[argparse.Namespace], Awaitable[None]]) -> None:
    args = parser().parse_args()
    # as `backlynk serve`: logging to stderr, one line per request (sent to a file here)
    log = tempfile.NamedTemporaryFile(prefix="inproc_hits_", suffix=".log", delete=False)
    print(f"stderr and the access log: {log.name}", flush=True)
    os.dup2(log.fileno(), 2)
    configure_logging()
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main(args))


if __name__ == "__main__":
    run(main)
