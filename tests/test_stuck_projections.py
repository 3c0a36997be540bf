"""A projection that cannot apply an event stops alone: the other projections go on,
`/readyz` names it and the position it is stuck at, and `backlynk projections skip NAME
POSITION` records the skip (who, when, why) and resumes it. Each test runs with the
projector inside the web process and as its own `backlynk projector` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from domain import ids
from domain.services import sites
from domain.site import Site
from projections import stalls
from projections.registry import all_projections
from tests.accounts import bearer, paid_account, register
from tests.conftest import LiveServer
from tests.support import Limits, site_ports

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = [pytest.mark.xdist_group("heavy"), pytest.mark.timeout(300)]

WAIT = 60.0  # generous: the machine may be busy; a pass takes well under a second


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "BACKLYNK_REDIS_NAMESPACE": settings.redis_namespace,
        "JWT_SECRET": settings.signing_secret,
    }


async def backlynk(settings: Settings, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backlynk_cli",
        *args,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class ProjectorProcess:
    """`backlynk projector`, as the Procfile runs it."""

    def __init__(self, settings: Settings, log: Path):
        self.settings, self.log, self.proc = settings, log, None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backlynk_cli", "projector"],
                env=cli_env(self.settings),
                stdout=subprocess.DEVNULL,
                stderr=out,
            )

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(params=["in-process", "process"])
async def web(
    request: pytest.FixtureRequest, isolated_settings: Settings, infra: Infrastructure, tmp_path
) -> AsyncIterator[LiveServer]:
    from api.app import create_app

    in_process = request.param == "in-process"
    app = create_app(isolated_settings, infra=infra, in_process_projector=in_process)
    projector = None if in_process else ProjectorProcess(isolated_settings, tmp_path / "log")
    if projector:
        projector.start()
    try:
        async with LiveServer(app) as live:
            live.projector = projector  # type: ignore[attr-defined]
            yield live
    finally:
        if projector:
            projector.kill()


async def until(probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        value = await probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {WAIT} s"
        await asyncio.sleep(0.05)


async def readyz(web: LiveServer) -> tuple[int, dict]:
    assert web.http
    async with web.http.get("/readyz") as r:
        return r.status, await r.json()


async def site_urls(web: LiveServer, tokens: dict) -> list[str]:
    assert web.http
    async with web.http.get("/api/v1/sites", headers=bearer(tokens)) as r:
        assert r.status == 200
        return sorted(s["url"] for s in (await r.json())["data"])


async def positions(infra: Infrastructure) -> dict[str, int]:
    return await stalls.positions(infra.pool, all_projections())


async def register_site(infra: Infrastructure, owner, url: str, name: str) -> int:
    """A valid site, through the service as the API registers one; the notification id
    of its `Site.Registered` event."""
    site, _ = await sites.register_site(
        site_ports(infra.repository),
        account_id=owner,
        plan=Limits(),
        url=url,
        details=sites.SiteDetails(name=name),
        verify_landing_page=False,
    )
    return await infra.pool.fetchval(
        "SELECT notification_id FROM backlynk_events WHERE originator_id = $1 "
        "AND originator_version = 1",
        site.id,
    )


async def test_a_poisoned_event_stops_its_projection_alone_until_an_operator_skips_it(
    web: LiveServer, infra: Infrastructure, isolated_settings: Settings
) -> None:
    tokens = await paid_account(web, infra)
    owner = ids.decode("usr", tokens["user"]["id"])
    # A site whose name holds NUL, written straight through the event store (the API
    # refuses it): Postgres text cannot hold NUL, so the sites read model cannot apply it.
    poison = Site(
        account_id=owner,
        url="https://poison.example.com",
        domain="poison.example.com",
        name="Poison\x00",
        description=None,
        category=None,
        keywords=[],
        contact_email=None,
    )
    bad = await infra.repository.save(poison)
    await register_site(infra, owner, "https://after.example.com", "After")

    status, body = await until(lambda: readyz(web), lambda answer: answer[1]["stuck_projections"])
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"] == {
        "postgres": "ok",
        "redis": "ok",
        "projections": f"stuck: sites at {bad}",
    }
    [stuck] = body["stuck_projections"]
    assert stuck["name"] == "sites" and stuck["position"] == bad
    assert stuck["topic"] == "Site.Registered" and stuck["attempts"] >= 1
    assert stuck["error"] == "CharacterNotInRepertoireError"

    # every other projection goes on: a new account signs up and reads itself back
    other = await register(web)
    async with web.http.get("/api/v1/users/me", headers=bearer(other)) as r:  # type: ignore[union-attr]
        assert r.status == 200 and (await r.json())["email"] == other["user"]["email"]
    last = await infra.store.max_notification_id()
    at = await until(
        lambda: positions(infra), lambda p: all(v >= last for k, v in p.items() if k != "sites")
    )
    assert at["sites"] == bad - 1  # everything before the poisoned event was kept
    assert await site_urls(web, tokens) == []  # the site after it waits behind it

    # the operator's command refuses anything but the exact stuck position, in one line
    # (the command is the same whichever way the projector runs: checked once)
    refusals = [
        (("nope", str(bad)), "unknown projection 'nope'"),
        (("sites", str(bad + 1)), f"projection 'sites' is stuck at {bad}, not {bad + 1}"),
        (("jobs", str(bad)), "projection 'jobs' is not stuck; nothing to skip"),
        (("sites", "x1"), "POSITION must be a notification id"),
    ]
    if web.projector is None:  # type: ignore[attr-defined]
        answers = await asyncio.gather(
            *(backlynk(isolated_settings, "projections", "skip", *args) for args, _ in refusals)
        )
        for (code, _, err), (_, reason) in zip(answers, refusals, strict=True):
            assert code == 2 and err.count("\n") == 1 and reason in err, err
    code, _, err = await backlynk(
        isolated_settings, "projections", "skip", "sites", str(bad), "--reason", "NUL in a name"
    )
    assert code == 0, err
    assert f"skipped notification {bad} (domain.site:Site.Registered" in err

    assert await until(
        lambda: site_urls(web, tokens), lambda urls: urls == ["https://after.example.com/"]
    )
    status, body = await until(lambda: readyz(web), lambda answer: answer[1]["status"] == "ok")
    assert status == 200 and body["stuck_projections"] == []
    assert body["checks"]["projections"] == "ok"
    [skip] = await stalls.skips(infra.pool)  # the audit trail
    assert (skip.projection, skip.notification_id, skip.originator_id) == ("sites", bad, poison.id)
    assert skip.topic.endswith("Site.Registered") and skip.reason == "NUL in a name"
    assert skip.error.startswith("CharacterNotInRepertoireError: ") and "\x00" not in skip.error
    assert "@" in skip.skipped_by

    if web.projector is None:  # type: ignore[attr-defined]
        # once passed, it cannot be skipped again; status shows the audit trail
        (code, _, err), (status_code, out, _) = await asyncio.gather(
            backlynk(isolated_settings, "projections", "skip", "sites", str(bad)),
            backlynk(isolated_settings, "projections", "status"),
        )
        assert code == 2 and "not stuck" in err
        assert status_code == 0 and "STUCK" not in out and f"sites: at {last}" in out
        assert f"skipped sites {bad} (domain.site:Site.Registered) by " in out
        # a replay passes over the recorded skip too
        code, _, err = await backlynk(isolated_settings, "projections", "rebuild", "sites")
        assert code == 0, err
        assert await site_urls(web, tokens) == ["https://after.example.com/"]


async def test_a_projection_stuck_on_a_transient_error_resumes_by_itself_or_on_restart(
    web: LiveServer, infra: Infrastructure, isolated_settings: Settings
) -> None:
    tokens = await paid_account(web, infra)
    owner = ids.decode("usr", tokens["user"]["id"])
    async with infra.pool.acquire() as conn:
        # an operator's mistake, fixed later: a constraint the read model cannot meet
        await conn.execute(
            "ALTER TABLE sites ADD CONSTRAINT test_blocked CHECK (name <> 'Blocked') NOT VALID"
        )
    try:
        blocked = await register_site(infra, owner, "https://blocked.example.com", "Blocked")
        status, body = await until(
            lambda: readyz(web), lambda answer: answer[1]["stuck_projections"]
        )
        assert [(s["name"], s["position"], s["error"]) for s in body["stuck_projections"]] == [
            ("sites", blocked, "CheckViolationError")
        ]
        projector: ProjectorProcess | None = web.projector  # type: ignore[attr-defined]
        if projector:
            projector.kill()
        async with infra.pool.acquire() as conn:
            await conn.execute("ALTER TABLE sites DROP CONSTRAINT test_blocked")
        if projector:
            projector.start()  # the restart retries at once
        # in-process, the runner's own back-off retry picks it up
        assert await until(
            lambda: site_urls(web, tokens), lambda urls: urls == ["https://blocked.example.com/"]
        )
        status, body = await until(lambda: readyz(web), lambda answer: answer[1]["status"] == "ok")
        assert status == 200 and body["stuck_projections"] == []
        async with infra.pool.acquire() as conn:
            assert await stalls.skips(conn) == []  # nothing was skipped
            assert await conn.fetchval("SELECT count(*) FROM projection_stalls") == 0
        # and it keeps applying new events
        await register_site(infra, owner, "https://later.example.com", "Later")
        assert await until(lambda: site_urls(web, tokens), lambda urls: len(urls) == 2)
    finally:
        async with infra.pool.acquire() as conn:
            await conn.execute("ALTER TABLE sites DROP CONSTRAINT IF EXISTS test_blocked")
