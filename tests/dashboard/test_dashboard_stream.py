"""`GET /dashboard/jobs/{id}/stream`: the job page's live progress as Server-Sent Events,
through a real HTTP client with the dashboard's cookie session — the API's job stream
(same feed, same caps) for the signed-in account: events when the job changes, the
sign-in redirect without the cookie, 404 for another account's job."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import msgspec
import pytest

from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from adapters.wiring import auth_ports
from domain.services.accounts import set_plan
from tests.accounts import PASSWORD
from tests.conftest import LiveServer
from tests.core.client import Client
from tests.dashboard.pages import Browser
from tests.sse import EventStream
from tests.workers_support import eventually

pytestmark = pytest.mark.usefixtures("catalogue")


async def _job(browser: Browser) -> str:
    """A site and a job on directory 1, started through the dashboard's forms: its id."""
    seen = await browser.submit(
        "/dashboard/sites", "/dashboard/sites", {"url": "https://shop.example.com/", "name": "S"}
    )
    site = re.findall(r"/dashboard/sites/(site_\w+)/edit", seen.text)[0]
    page = await browser.get("/dashboard/jobs/new", site=site)
    job = await browser.post(
        "/dashboard/jobs",
        [("csrf_token", page.csrf), ("site", site), ("d", "1"), ("step", "start")],
    )
    return re.search(r"/dashboard/jobs/(job_\w+)", job.url).group(1)


@contextlib.asynccontextmanager
async def opened(browser: Browser, job_id: str) -> AsyncIterator[EventStream]:
    async with browser.http.get(
        f"/dashboard/jobs/{job_id}/stream", headers={"Accept": "text/event-stream"}
    ) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "text/event-stream"
        yield EventStream(r)


async def test_the_job_page_streams_each_change_until_the_job_is_finished(
    customer: Browser, api: LiveServer
):
    job_id = await _job(customer)
    page = await customer.get(f"/dashboard/jobs/{job_id}")
    assert f'data-stream="/dashboard/jobs/{job_id}/stream"' in page.text
    assert f'data-refresh="/dashboard/jobs/{job_id}/progress"' in page.text  # the fallback
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    feed = api.app.state.job_feed
    async with opened(customer, job_id) as stream:
        first = await stream.next()
        assert first is not None and first.event == "job"
        assert first.data["id"] == job_id and first.data["status"] == "queued"
        assert feed.open == 1
        canceled = await customer.post(
            f"/dashboard/jobs/{job_id}/cancel", {"csrf_token": page.csrf}
        )
        assert canceled.status == 200, canceled.text
        last = await stream.next()
        assert last is not None and last.event == "finished" and last.id > first.id
        assert last.data["status"] == "canceled"
        assert await stream.next() is None  # the server ended the stream
    await eventually(lambda: asyncio.sleep(0, feed.open == 0), every=0.05)


async def test_the_stream_needs_the_cookie_and_the_jobs_own_account(
    customer: Browser, api: LiveServer, infra: Infrastructure
):
    job_id = await _job(customer)
    path = f"/dashboard/jobs/{job_id}/stream"
    stranger = Browser(api)
    intruder = Browser(api)
    try:
        async with stranger.http.get(path, allow_redirects=False) as r:
            assert r.status == 303 and "/dashboard/sign-in" in r.headers["Location"]
            assert r.content_type != "text/event-stream"
        await intruder.register()
        await set_plan(auth_ports(infra), intruder.email, "pro")
        for other in (path, "/dashboard/jobs/not-an-id/stream"):
            async with intruder.http.get(other) as r:
                assert r.status == 404 and r.content_type == "text/html", other
                assert "Not found" in await r.text()
    finally:
        await stranger.close()
        await intruder.close()
    assert api.app.state.job_feed.open == 0


@pytest.fixture
async def capped(isolated_settings: Settings, infra: Infrastructure) -> AsyncIterator[LiveServer]:
    from api.app import create_app

    settings = msgspec.structs.replace(isolated_settings, max_streams=2, streams_per_account=1)
    async with LiveServer(create_app(settings, infra=infra, in_process_projector=True)) as live:
        yield live


async def test_the_page_and_the_api_share_the_feeds_caps(capped: LiveServer, infra):
    browser = Browser(capped)
    try:
        await browser.register()
        await set_plan(auth_ports(infra), browser.email, "pro")
        job_id = await _job(browser)
        async with capped.http.post(
            "/api/v1/auth/login", json={"email": browser.email, "password": PASSWORD}
        ) as r:
            client = Client(capped, await r.json())
        async with opened(browser, job_id) as stream:
            assert await stream.next() is not None
            # the account's one stream is open: neither the API nor another tab gets one
            async with capped.http.get(
                f"/api/v1/jobs/{job_id}/stream", headers=client.headers
            ) as r:
                answer = await r.json()
                assert r.status == 429 and answer["error"]["code"] == "too_many_streams"
            async with browser.http.get(f"/dashboard/jobs/{job_id}/stream") as r:
                assert r.status == 429 and r.content_type == "text/html"
                assert r.headers["Retry-After"]
        feed = capped.app.state.job_feed
        await eventually(lambda: asyncio.sleep(0, feed.open == 0), every=0.05)
        async with opened(browser, job_id) as again:  # room again
            assert await again.next() is not None
    finally:
        await browser.close()
