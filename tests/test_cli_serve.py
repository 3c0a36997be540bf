"""`backlynk serve` as a Procfile platform runs it: it binds `HOST` and `PORT` from the
environment, and a setting it cannot use is one line and a non-zero exit, before anything
starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.live_service import quiet_port

GOOD_SECRET = "s" * 32


def serve_env(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"HOST", "PORT", "BACKLYNK_DEV"}}
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        BACKLYNK_REDIS_NAMESPACE=settings.redis_namespace,
        JWT_SECRET=GOOD_SECRET,
    )
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def refused(settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backlynk_cli", "serve", *args],
        capture_output=True,
        text=True,
        env=serve_env(settings, **extra),
        timeout=60,
    )


def assert_one_line_refusal(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("backlynk: ") and "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def healthz(
    process: subprocess.Popen, port: int, deadline_s: float = 60.0
) -> dict[str, str] | None:
    """Wait (generously) until the process answers, then return its answer; None if it
    ended first (the port was taken after we chose it)."""
    give_up = time.monotonic() + deadline_s
    while process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                return {"status": str(r.status), "body": r.read().decode()}
        except OSError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.1)
    return None


def run_serving(settings, **extra: str) -> tuple[dict[str, str], str, int]:
    """Start `backlynk serve` on a free port, read /healthz over loopback, stop it;
    (answer, its log, the port). Another port is tried if the chosen one was taken before
    the process bound it."""
    for _ in range(5):
        port = quiet_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "backlynk_cli", "serve"],
            env=serve_env(settings, PORT=str(port), **extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            answer = healthz(process, port)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=30)
        if answer is not None:
            return answer, log, port
        assert "address already in use" in log.lower(), log
    raise AssertionError("no free port in five tries")


def test_serve_binds_every_interface_and_the_port_of_the_environment(settings):
    answer, log, port = run_serving(settings)
    assert answer["status"] == "200"
    assert f"http://0.0.0.0:{port}" in log


def test_serve_binds_the_host_of_the_environment(settings):
    answer, log, port = run_serving(settings, HOST="127.0.0.1")
    assert answer["status"] == "200"
    assert f"http://127.0.0.1:{port}" in log


def test_make_run_keeps_the_web_process_on_loopback():
    with open("Makefile") as fh:
        run_recipe = fh.read().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "export HOST=$${HOST-127.0.0.1}" in run_recipe


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("BACKLYNK_PUBLIC_CHECK_RATE", "0"),
        ("BACKLYNK_PUBLIC_CHECK_RATE", "ten"),
        ("BACKLYNK_PUBLIC_CHECK_URLS", "24"),
        ("BACKLYNK_REFRESH_RATE", "x"),
        ("BACKLYNK_HOST_DELAY", "nan"),
    ],
)
def test_a_setting_that_cannot_be_used_is_a_one_line_refusal(settings, variable, value):
    done = refused(settings, **{variable: value})
    assert_one_line_refusal(done, variable, repr(value))


def test_a_bad_port_option_is_a_one_line_refusal_too(settings):
    assert_one_line_refusal(refused(settings, "--port", "http"), "PORT", "'http'")


def test_a_short_jwt_secret_refuses_to_start_outside_dev(settings):
    done = refused(settings, JWT_SECRET="s" * 31)
    assert_one_line_refusal(done, "JWT_SECRET", "31 bytes", "at least 32")


def test_a_missing_jwt_secret_refuses_to_start_outside_dev(settings):
    done = refused(settings, JWT_SECRET="")
    assert_one_line_refusal(done, "JWT_SECRET is not set")


def test_dev_mode_accepts_a_short_secret(settings):
    answer, _, _ = run_serving(settings, JWT_SECRET="short", BACKLYNK_DEV="1")
    assert answer["status"] == "200"
