"""End-to-end fixtures for the workers: the sandbox directories on a loopback port, real
`backlynk worker` processes, and polling through the HTTP API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from adapters.demo.sandbox import STATE, SandboxState, build_app, catalogue
from adapters.directories import upsert
from adapters.settings import Settings
from domain.directory import parse_catalogue


class Sandbox:
    """The sandbox served as `make run` serves it. Like a real directory (and unlike
    aiohttp's TestServer), it finishes a request whose client went away: a submission
    that the client gave up on may still have landed."""

    def __init__(self) -> None:
        self.app = build_app()
        self.runner = web.AppRunner(self.app, handler_cancellation=False)
        self.base = ""

    @property
    def state(self) -> SandboxState:
        return self.app[STATE]

    async def start(self, pool: Any) -> Sandbox:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        async with pool.acquire() as conn:
            await upsert(conn, parse_catalogue(msgspec.json.encode(self.catalogue())))
        return self

    def catalogue(self) -> list[dict[str, Any]]:
        """The catalogue entries of the sandbox directories at this address."""
        return catalogue(self.base)

    async def close(self) -> None:
        await self.runner.cleanup()


class Workers:
    """Real worker processes on this run's queue; kill -9 them at will."""

    def __init__(self, settings: Settings, **env: str):
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "BACKLYNK_REDIS_NAMESPACE": settings.redis_namespace,
            "BACKLYNK_FETCH_ALLOW_CIDRS": "127.0.0.0/8",
            "BACKLYNK_HOST_DELAY": "0.05",
            "PYTHONPATH": os.getcwd(),
            **env,
        }
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backlynk_cli", "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(proc)


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 60,
    every: float = 0.25,
    describe: Callable[[], Awaitable[Any]] | None = None,
) -> Any:
    """Poll until `probe` returns something truthy; fail saying what `describe` sees."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    seen = await describe() if describe else None
    raise AssertionError(f"not reached within {timeout}s; state: {seen!r}")
