"""`/metrics`: Prometheus exposition behind a token, requests counted by route template,
and — with real web, worker and projector processes sharing one multiprocess directory —
the worker's counts, projector lag and queue depth in the web process's answer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import msgspec
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from adapters import metrics
from api.app import create_app
from projections.registry import all_projections
from tests.accounts import PASSWORD
from tests.conftest import LiveServer
from tests.live_service import LiveService
from tests.workers_support import eventually

TOKEN = "scrape-" + uuid.uuid4().hex


def samples(text: str) -> dict[str, list]:
    """Every sample of the exposition, by sample name (`..._total`, `..._bucket`, ...)."""
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(found: dict[str, list], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    return sum(s.value for s in found.get(name, []) if labels.items() <= s.labels.items())


@pytest.fixture
async def guarded(isolated_settings, infra):
    """The app with a metrics token, in this process (single-process metrics)."""
    app = create_app(
        msgspec.structs.replace(isolated_settings, metrics_token=TOKEN),
        infra=infra,
        in_process_projector=True,
    )
    async with LiveServer(app) as live:
        yield live


def assert_requests_counted(
    before: dict[str, list], after: dict[str, list], route: dict[str, str], status: str, n: int
) -> None:
    """Between two scrapes, `n` requests of `route` were counted: in the total by status,
    and each with its duration in the histogram."""

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("backlynk_http_requests_total", **route, status=status) == n
    assert delta("backlynk_http_request_duration_seconds_count", **route) == n
    assert delta("backlynk_http_request_duration_seconds_bucket", **route, le="+Inf") == n


async def scrape(server, token: str = TOKEN) -> dict[str, list]:
    async with server.http.get("/metrics", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "text/plain"
        return samples(await r.text())


async def test_metrics_is_not_found_when_no_token_is_configured(api):
    async with api.http.get("/metrics", headers={"Authorization": "Bearer anything"}) as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "not_found"


async def test_metrics_refuses_a_missing_or_wrong_token(guarded):
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        async with guarded.http.get("/metrics", headers=headers) as r:
            assert r.status == 401, headers
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await r.json())["error"]["code"] == "authentication_required"
    await scrape(guarded)


async def test_requests_are_counted_by_route_template_never_by_raw_path(guarded):
    before = await scrape(guarded)
    ids = [f"job_{uuid.uuid4().hex}" for _ in range(3)]
    for job_id in ids:
        async with guarded.http.get(f"/api/v1/jobs/{job_id}") as r:
            assert r.status == 401  # no credentials: the route matched all the same
    async with guarded.http.get(f"/no/such/{ids[0]}") as r:
        assert r.status == 404
    async with guarded.http.request("BREW", f"/api/v1/jobs/{ids[0]}") as r:
        assert r.status == 405
    after = await scrape(guarded)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"route": "/api/v1/jobs/{job_id}", "method": "GET"}
    assert_requests_counted(before, after, route, "401", 3)
    assert delta("backlynk_http_requests_total", route="unmatched", status="404") == 1
    assert delta("backlynk_http_requests_total", **{**route, "method": "other"}) == 1
    labels = {v for found in after.values() for s in found for v in s.labels.values()}
    assert not any(job_id in label for job_id in ids for label in labels)
    # read at the scrape from Postgres and Redis
    names = {s.labels["projection"] for s in after["backlynk_projection_lag"]}
    assert names == {p.name for p in all_projections()}
    assert {s.labels["state"] for s in after["backlynk_queue_jobs"]} == {"due", "deferred"}
    assert value(after, "backlynk_metrics_source_up") == 2


async def test_the_requests_of_one_loop_turn_are_each_counted(guarded):
    """Edge counts the requests answered in one turn together (`api.request_log`): 20 at
    once, each in its series, with its own duration in the histogram."""
    before = await scrape(guarded)

    async def unauthenticated() -> None:
        async with guarded.http.get("/api/v1/sites") as r:
            assert r.status == 401

    await asyncio.gather(*(unauthenticated() for _ in range(20)))
    after = await scrape(guarded)

    route = {"route": "/api/v1/sites", "method": "GET"}
    assert_requests_counted(before, after, route, "401", 20)
    sums = "backlynk_http_request_duration_seconds_sum"
    assert value(after, sums, **route) - value(before, sums, **route) > 0


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize("writer_alive", [False, True])
def test_the_directory_is_emptied_at_start_only_when_no_writer_lives(
    tmp_path, monkeypatch, writer_alive
):
    directory = tmp_path / "prom"
    monkeypatch.setenv(metrics.DIRECTORY_VARIABLE, str(directory))
    metrics.prepare_directory()  # created when missing
    dead = _dead_pid()
    files = [directory / f"counter_{dead}.db", directory / f"gauge_all_{dead}.db"]
    if writer_alive:
        files.append(directory / f"histogram_{os.getppid()}.db")
    for f in files:
        f.write_bytes(b"")
    metrics.prepare_directory()
    left = sorted(p.name for p in directory.iterdir())
    assert left == (sorted(f.name for f in files) if writer_alive else [])


@pytest.mark.timeout(600)
@pytest.mark.xdist_group("processes")
def test_one_scrape_of_the_web_process_shows_every_process_after_a_job_runs(
    tmp_path: Path,
):
    """web, worker and projector are separate processes; the worker's submissions,
    verifications and fetches are in the web process's answer."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    # a count left by a process of an earlier run: gone once the service starts
    stale = MmapedDict(str(shared / f"counter_{_dead_pid()}.db"))
    stale.write_value(mmap_key("backlynk_stale", "backlynk_stale_total", [], [], "old"), 7, 0)
    stale.close()
    with LiveService(
        tmp_path,
        name="metrics",
        PROMETHEUS_MULTIPROC_DIR=str(shared),
        BACKLYNK_METRICS_TOKEN=TOKEN,
        BACKLYNK_HOST_DELAY="0.05",
    ) as service:
        service.migrate()
        service.import_sandbox_catalogue()
        email = f"metrics-{uuid.uuid4().hex[:8]}@example.com"
        service.backlynk(
            "users", "create", "--email", email, "--password", PASSWORD, "--plan", "agency"
        )
        service.start_all()
        service.wait_ready()
        try:
            # sync test: LiveService runs its own event loop to drop its database
            found = asyncio.run(_run_a_job_and_scrape(service, email))
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{service.tails()}") from None
        assert "backlynk_stale_total" not in found
        # web and worker each wrote their own files (named by pid) into the shared directory
        writers = {p.stem.rpartition("_")[2] for p in shared.glob("*.db")}
        assert len(writers) >= 2, sorted(p.name for p in shared.glob("*.db"))


async def _run_a_job_and_scrape(service: LiveService, email: str) -> dict[str, list]:
    async with aiohttp.ClientSession(base_url=service.url) as http:
        async with http.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ) as r:
            assert r.status == 200, await r.text()
            auth = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        domain = f"shop-{uuid.uuid4().hex[:8]}.example.com"
        body = {
            "url": f"https://{domain}/",
            "name": "Example Shop",
            "description": "A site about examples, long enough for every directory.",
        }
        async with http.post("/api/v1/sites", json=body, headers=auth) as r:
            assert r.status == 201, await r.text()
            site = await r.json()
        async with http.post(
            "/api/v1/jobs", json={"site_id": site["id"], "directory_ids": [2]}, headers=auth
        ) as r:
            assert r.status == 202, await r.text()
            job = await r.json()

        async def verified():
            async with http.get(f"/api/v1/jobs/{job['id']}", headers=auth) as r:
                assert r.status == 200
                shown = await r.json()
            return shown["tasks"][0]["status"] == "verified"

        async def describe():
            async with http.get(f"/api/v1/jobs/{job['id']}", headers=auth) as r:
                return await r.json()

        await eventually(verified, timeout=120, describe=describe)

        async with http.get("/metrics") as r:
            assert r.status == 401
        async with http.get("/metrics", headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        async with http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200
            text = await r.text()

    found = samples(text)
    route = {"route": "/api/v1/jobs/{job_id}", "method": "GET"}
    assert value(found, "backlynk_http_requests_total", **route, status="200") >= 1
    assert value(found, "backlynk_http_request_duration_seconds_count", **route) >= 1
    assert job["id"] not in text  # the raw path never becomes a label
    # counted in the worker process only: the web process never submits nor verifies
    assert value(found, "backlynk_submissions_total", outcome="submitted") >= 1
    assert value(found, "backlynk_verifications_total", outcome="verified") >= 1
    assert value(found, "backlynk_checker_fetches_total", outcome="ok") >= 1
    lag = {s.labels["projection"]: s.value for s in found["backlynk_projection_lag"]}
    assert set(lag) == {p.name for p in all_projections()}
    assert all(v >= 0 for v in lag.values())
    depth = {s.labels["state"]: s.value for s in found["backlynk_queue_jobs"]}
    assert set(depth) == {"due", "deferred"} and all(v >= 0 for v in depth.values())
    assert value(found, "backlynk_metrics_source_up", source="postgres") == 1
    assert value(found, "backlynk_metrics_source_up", source="redis") == 1
    return found
