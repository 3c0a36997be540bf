"""Monitoring over real pages: a local aiohttp server serves the page that links to the
customer's site (with the link, without it, too slowly, or gone), the backlink is added
through `POST /api/v1/backlinks`, and its checks run as the workers run them — the
`recheck_backlink` task in process (with a short fetch timeout, so a timeout is quick),
and once end to end through the dispatcher and a real `backlynk worker`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from adapters.fetcher import Fetcher
from adapters.page_inspector import FetchingPageInspector
from adapters.ssrf import AddressPolicy
from api.app import create_app
from domain import ids
from domain.services.delivery import Delivery
from domain.webhook import Webhook
from projections.runner import wait_for
from tests.conftest import LiveServer
from tests.core.client import Client, account
from tests.workers_support import Workers, eventually
from workers import tasks


class Page:
    """One page at `url` that links to `domain` or not, as `mode` says: `link`, `nolink`,
    `slow` (answers after the fetcher gave up), `gone` (404)."""

    def __init__(self, domain: str):
        self.domain = domain
        self.mode = "link"
        self.url = ""
        app = web.Application()
        app.router.add_get("/links", self.handle)
        self.runner = web.AppRunner(app)
        self.closing = asyncio.Event()  # a slow answer ends early when the test is over

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "slow":
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.closing.wait()
        if self.mode == "gone":
            return web.Response(status=404, text="gone")
        link = (
            f'<a href="https://{self.domain}/" rel="nofollow">Example shop</a>'
            if self.mode != "nolink"
            else "<p>no links here</p>"
        )
        return web.Response(
            text=f"<html><head><title>Links</title></head><body>{link}</body></html>",
            content_type="text/html",
        )

    async def __aenter__(self) -> Page:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/links"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.closing.set()  # the cleanup below waits for the slow answers
        await self.runner.cleanup()


@pytest.fixture
def domain() -> str:
    return f"shop-{uuid.uuid4().hex[:8]}.example.com"


@pytest.fixture
async def page(domain: str) -> AsyncIterator[Page]:
    async with Page(domain) as served:
        yield served


@pytest.fixture
async def worker_ctx(infra) -> AsyncIterator[dict[str, Any]]:
    """What `recheck_backlink` reads from a worker's context: the delivery ports, with a
    fetcher that gives up after a second (a worker's gives up after 15)."""
    fetcher = Fetcher(AddressPolicy(infra.settings.allowed_networks()), timeout=1.0)
    ports = Delivery(
        repo=infra.repository,
        catalogue=None,  # type: ignore[arg-type]  # a re-check reads no directory
        submitter=None,  # type: ignore[arg-type]
        inspector=FetchingPageInspector(fetcher),
        gate=None,  # type: ignore[arg-type]
        clock=infra.clock,
    )
    yield {"delivery": ports}
    await fetcher.close()


async def add(client: Client, site: dict[str, Any], url: str) -> dict[str, Any]:
    a = await client.post("/api/v1/backlinks", {"site_id": site["id"], "source_url": url})
    assert a.status == 201, a.body
    return a.body


async def settled(server: LiveServer, infra: Any) -> None:
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, server.app.state.projections, latest, timeout=60)


def rechecks(outcome: str) -> float:
    return REGISTRY.get_sample_value("backlynk_backlink_rechecks_total", {"outcome": outcome}) or 0


async def test_a_link_is_lost_after_two_misses_unreachable_after_a_timeout_and_recovered(
    api, infra, page, domain, worker_ctx
):
    client = await account(api, infra, "pro")
    site = await client.add_site(f"https://{domain}/")
    account_id = ids.decode("usr", client.tokens["user"]["id"])
    # a webhook for the transitions (its deliveries are the outbox's rows)
    await infra.repository.save(
        Webhook(
            account_id=account_id,
            url="https://hooks.example.net/backlynk",
            events=["backlink.lost", "backlink.recovered"],
            sealed_secret=b"sealed",
        )
    )
    added = await add(client, site, page.url)
    assert (added["status"], added["job_id"], added["directory_id"]) == ("pending", None, None)
    backlink_hex = ids.decode("bl", added["id"]).hex
    counted = {o: rechecks(o) for o in ("found", "missing", "unreachable")}

    async def check(mode: str) -> dict[str, Any]:
        page.mode = mode
        await tasks.recheck_backlink(worker_ctx, backlink_hex)
        await settled(api, infra)
        shown = await client.get(f"/api/v1/backlinks/{added['id']}")
        assert shown.status == 200, shown.body
        return shown.body

    steps = [
        ("link", "live", "Checked"),  # the first check of an added link
        ("nolink", "live", "Checked"),  # one miss: still live
        ("nolink", "lost", "Lost"),  # two in a row: lost
        ("link", "live", "Recovered"),
        ("slow", "unreachable", "BecameUnreachable"),  # one timeout: not lost
        ("link", "live", "Checked"),
    ]
    for mode, status, event in steps:
        shown = await check(mode)
        assert (shown["status"], shown["checks"][0]["event"]) == (status, event), shown
    assert shown["checks_total"] == len(steps)
    history = shown["checks"]
    assert [c["status"] for c in history] == [s for _, s, _ in reversed(steps)]
    assert [c["outcome"] for c in history] == [
        "found",
        "unreachable",
        "found",
        "missing",
        "missing",
        "found",
    ]
    assert history == sorted(history, key=lambda c: c["checked_at"], reverse=True)
    first_miss, first_check = history[4], history[5]
    assert {"field": "has_link", "before": True, "after": False} in first_miss["changes"]
    assert first_miss["failures"] == 1 and history[3]["failures"] == 2
    assert {"field": "has_link", "before": False, "after": True} in first_check["changes"]
    assert history[1]["error"] == "timeout" and history[1]["http_status"] is None
    assert shown["consecutive_failures"] == 0 and shown["lost_at"] is None
    assert shown["link_type"] == "nofollow" and shown["target_url"] == f"https://{domain}/"

    # the list shows it like any backlink; the filters take the new states
    listed = await client.get("/api/v1/backlinks", status="live")
    assert [b["id"] for b in listed.body["data"]] == [added["id"]]
    assert (await client.get("/api/v1/backlinks", status="unreachable")).body["data"] == []

    # one webhook delivery per transition: lost once, recovered once
    rows = await infra.pool.fetch(
        "SELECT event_type FROM webhook_deliveries WHERE account_id = $1 ORDER BY position",
        account_id,
    )
    assert [r["event_type"] for r in rows] == ["backlink.lost", "backlink.recovered"]
    # every check counted by outcome
    assert {o: rechecks(o) - n for o, n in counted.items()} == {
        "found": 3,
        "missing": 2,
        "unreachable": 1,
    }


async def test_a_page_gone_counts_as_a_miss(api, infra, page, domain, worker_ctx):
    client = await account(api, infra, "agency")
    site = await client.add_site(f"https://{domain}/")
    added = await add(client, site, page.url)
    backlink_hex = ids.decode("bl", added["id"]).hex
    for mode in ("link", "gone", "gone"):
        page.mode = mode
        await tasks.recheck_backlink(worker_ctx, backlink_hex)
    await settled(api, infra)
    shown = (await client.get(f"/api/v1/backlinks/{added['id']}")).body
    assert (shown["status"], shown["http_status"]) == ("lost", 404)
    assert shown["lost_at"] is not None
    assert [c["event"] for c in shown["checks"]] == ["Lost", "Checked", "Checked"]


@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(300)
async def test_an_added_link_is_checked_by_a_worker_and_rechecked_on_request(
    settings, infra, page, domain
):
    """End to end: the API adds the link, the dispatcher queues its first check, a real
    worker fetches the page; a re-check asked for through the API goes the same way."""
    app = create_app(
        msgspec.structs.replace(settings, verify_sites=False),
        infra=infra,
        in_process_projector=True,
    )
    workers = Workers(settings)
    async with LiveServer(app) as api:
        try:
            workers.start()
            client = await account(api, infra, "pro")
            site = await client.add_site(f"https://{domain}/")
            added = await add(client, site, page.url)
            path = f"/api/v1/backlinks/{added['id']}"

            async def checks(n: int) -> Any:
                shown = await client.get(path)
                return shown.body if shown.body["checks_total"] >= n else None

            live = await eventually(lambda: checks(1), timeout=90)
            assert live["status"] == "live" and live["anchor_text"] == "Example shop"

            page.mode = "nolink"
            asked = await client.post(f"{path}/recheck")
            assert asked.status == 202 and asked.body["queued"] is True, asked.body
            missed = await eventually(lambda: checks(2), timeout=90)
            assert (missed["status"], missed["consecutive_failures"]) == ("live", 1)
            assert missed["checks"][0]["changes"][0] == {
                "field": "has_link",
                "before": True,
                "after": False,
            }
            # asked again in the same window: nothing more is queued (unless the window
            # turned between the two requests)
            again = await client.post(f"{path}/recheck")
            assert again.status == 202, again.body
            same_window = again.body["next_recheck_at"] == asked.body["next_recheck_at"]
            assert again.body["queued"] is not same_window, (asked.body, again.body)
        finally:
            workers.stop()
