"""The service as `make run` starts it, for the tests that drive it from outside (the
README test, the schemathesis run): a fresh database migrated by `backlynk migrate`, and
`backlynk serve`, `projector`, `worker` and `sandbox` as separate processes on free ports,
with the environment the Makefile's `run` target sets. Every process logs to a file; a
test that fails shows their tails."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from unittest import mock

import redis

from tests.conftest import BASE_URL, REDIS_URL, RUN_ID, _drop_db, _with_db

ROOT = Path(__file__).resolve().parent.parent


def quiet_port() -> int:
    """A free loopback port below the ephemeral range. The other tests' servers
    (bound to port 0) and every outgoing connection draw from the ephemeral range, so none
    of them can be handed this port in the seconds before our process binds it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 11024)
    for _ in range(200):
        port = random.randrange(low - 10000, low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


class LiveService:
    def __init__(self, workdir: Path, *, name: str, **env: str):
        self.workdir = workdir
        self.database = f"backlynk_test_{RUN_ID}_{name}_{uuid.uuid4().hex[:6]}"
        self.namespace = f"test:{RUN_ID}:{name}:{uuid.uuid4().hex[:6]}"
        self.port = quiet_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox_port = quiet_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("BACKLYNK_")}
        self.env = {
            **base,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": _with_db(BASE_URL, self.database),
            "REDIS_URL": REDIS_URL,
            "BACKLYNK_REDIS_NAMESPACE": self.namespace,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            # as `make run`: the sandbox lives on loopback, the demo is offline
            "BACKLYNK_FETCH_ALLOW_CIDRS": "127.0.0.0/8",
            "BACKLYNK_VERIFY_SITES": "0",
            "BACKLYNK_HOST_DELAY": "0.2",
            # the projector is its own process; on a busy machine it may lag for seconds
            "BACKLYNK_READ_YOUR_WRITES_WAIT": "60",
            **env,
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    # -- commands -------------------------------------------------------------------

    def backlynk(self, *args: str) -> str:
        """Run one `backlynk` command to completion; fail with its output if it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "backlynk_cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"backlynk {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def command(self, *args: str) -> None:
        """Run `backlynk *args` in this process: the command's own code (`backlynk_cli`,
        from its argument parser on), with the service's environment, but no Python
        process to start for it (seconds each on a busy machine). For the steps that set
        a service up or act as its operator; the commands themselves are tested as
        processes (tests/test_cli.py, tests/test_cli_users.py, the README test). Call it
        outside a running event loop, as the command's process would run it."""
        import backlynk_cli

        parsed = backlynk_cli.build_parser().parse_args(list(args))
        with mock.patch.dict(os.environ, self.env, clear=True):
            status = parsed.func(parsed)
        assert not status, f"backlynk {' '.join(args)} exited {status}"

    def start(self, name: str, *args: str) -> None:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "backlynk_cli", *args],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def migrate(self) -> None:
        self.command("migrate")

    def load_demo(self) -> None:
        """`backlynk demo load` (the demo account and the catalogue at the sandbox's usual
        port), then the same catalogue pointed at this sandbox's port."""
        self.command("demo", "load")
        self.import_sandbox_catalogue()

    def import_sandbox_catalogue(self) -> None:
        """The demo's directories, at this service's sandbox port (`directories import`)."""
        from adapters.demo.sandbox import catalogue

        path = self.workdir / "directories.json"
        path.write_text(json.dumps(catalogue(self.sandbox_url)))
        self.command("directories", "import", str(path))

    def start_web(self) -> None:
        # HOST/PORT are in the environment too (a Procfile platform's way)
        self.start("web", "serve", "--host", "127.0.0.1", "--port", str(self.port))

    def start_all(self) -> None:
        """Procfile.dev: web, worker, projector and the sandbox."""
        self.start("sandbox", "sandbox", "--host", "127.0.0.1", "--port", str(self.sandbox_port))
        self.start_web()
        self.start("projector", "projector")
        self.start("worker", "worker")

    def wait_ready(self, timeout: float = 90) -> None:
        """Until `/readyz` answers 200 (and the sandbox answers, if it runs)."""
        probes = [f"{self.url}/readyz"]
        if "sandbox" in self.procs:
            probes.append(f"{self.sandbox_url}/_stats")
        deadline = time.monotonic() + timeout
        for probe in probes:
            while True:
                self._check_alive()
                try:
                    with urllib.request.urlopen(probe, timeout=5) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{probe} not ready within {timeout}s\n{self.tails()}")
                time.sleep(0.2)

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{self.tails()}")

    def tails(self, lines: int = 30) -> str:
        out = []
        for name, log in self.logs.items():
            text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
            out.append(f"--- {name} (last {lines} lines) ---\n" + "\n".join(text))
        return "\n".join(out)

    # -- teardown --------------------------------------------------------------------

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        asyncio.run(_drop_db(self.database))
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=f"{self.namespace}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    def __enter__(self) -> LiveService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
