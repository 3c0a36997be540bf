"""`GET /api/v1/jobs/{id}/stream` through a real HTTP client against the live app: the
job as Server-Sent Events, resumable with Last-Event-ID, the access rules of
GET /jobs/{id}, the caps, and a client that goes away leaves nothing behind.

Jobs here stay queued until canceled (no worker runs); a job that runs to its end is in
tests/flows/test_job_stream_flow.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import msgspec
import pytest

from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from tests.conftest import LiveServer
from tests.core.client import Answer, Client, account, assert_error
from tests.sse import EventStream
from tests.workers_support import eventually

pytestmark = pytest.mark.usefixtures("catalogue")


@contextlib.asynccontextmanager
async def opened(
    client: Client, job_id: str, last_event_id: int | None = None
) -> AsyncIterator[EventStream]:
    headers = {**client.headers, "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    async with client.server.http.get(f"/api/v1/jobs/{job_id}/stream", headers=headers) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "text/event-stream"
        yield EventStream(r)


async def refused(client: Client, path: str, headers: dict[str, str] | None = None) -> Answer:
    async with client.server.http.get(path, headers={**client.headers, **(headers or {})}) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return Answer(r.status, body, r.headers)


async def test_each_change_is_sent_and_the_finished_job_ends_the_stream(pro: Client):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2])
    async with opened(pro, job["id"]) as stream:
        first = await stream.next()
        assert first is not None and first.event == "job"
        assert first.data == (await pro.get(f"/api/v1/jobs/{job['id']}")).body
        assert first.data["status"] == "queued"

        assert (await pro.post(f"/api/v1/jobs/{job['id']}/cancel")).status == 202
        last = await stream.next()
        assert last is not None and last.event == "finished" and last.id > first.id
        assert last.data["status"] == "canceled"
        assert last.data == (await pro.get(f"/api/v1/jobs/{job['id']}")).body
        assert await stream.next() is None  # and the server closed the stream


async def test_a_finished_job_is_sent_once_and_the_stream_closes(pro: Client):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1])
    assert (await pro.post(f"/api/v1/jobs/{job['id']}/cancel")).status == 202
    async with opened(pro, job["id"]) as stream:
        only = await stream.next()
        assert only is not None and only.event == "finished"
        assert only.data["status"] == "canceled"
        assert await stream.next() is None
    # a client that saw it is told there is nothing more (204: an EventSource stops)
    seen = await refused(pro, f"/api/v1/jobs/{job['id']}/stream", {"Last-Event-ID": str(only.id)})
    assert seen.status == 204 and seen.body == ""
    # one that saw an earlier state gets the finished one at once
    async with opened(pro, job["id"], last_event_id=only.id - 1) as stream:
        again = await stream.next()
        assert again is not None and (again.id, again.event) == (only.id, "finished")
        assert await stream.next() is None


async def test_resuming_with_last_event_id_skips_what_was_seen(pro: Client):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2])
    async with opened(pro, job["id"]) as stream:
        seen = await stream.next()
        assert seen is not None
    # the job has not changed since: nothing is sent until it does
    async with opened(pro, job["id"], last_event_id=seen.id) as stream:
        assert (await pro.post(f"/api/v1/jobs/{job['id']}/cancel")).status == 202
        following = await stream.next()
        assert following is not None and following.id > seen.id
        assert following.event == "finished"


async def test_another_accounts_job_is_not_found_and_credentials_are_required(
    api: LiveServer, infra: Infrastructure, pro: Client
):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1])
    other = await account(api, infra, "pro")
    path = f"/api/v1/jobs/{job['id']}/stream"
    assert_error(await refused(other, path), 404, "not_found")
    assert_error(await refused(pro, "/api/v1/jobs/job_nonsense/stream"), 404, "not_found")
    anonymous = pro.with_headers({})
    assert_error(await refused(anonymous, path), 401, "authentication_required")
    for nonsense in ("yesterday", "\u00b2", "9" * 19):
        bad = await refused(pro, path, {"Last-Event-ID": nonsense})
        assert_error(bad, 422, "validation_failed", field="Last-Event-ID")
    assert api.app.state.job_feed.open == 0  # refusals hold no subscription


async def test_a_client_that_disconnects_frees_its_subscription(api: LiveServer, pro: Client):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1])
    feed = api.app.state.job_feed
    async with opened(pro, job["id"]) as stream:
        assert await stream.next() is not None
        assert feed.open == 1 and feed._by_job
    # the client closed the connection; the server notices and lets the stream go
    await eventually(lambda: asyncio.sleep(0, feed.open == 0), every=0.05)
    assert not feed._by_job and not feed._per_account


@pytest.fixture
async def capped(isolated_settings: Settings, infra: Infrastructure) -> AsyncIterator[LiveServer]:
    from api.app import create_app

    settings = msgspec.structs.replace(isolated_settings, max_streams=2, streams_per_account=1)
    async with LiveServer(create_app(settings, infra=infra, in_process_projector=True)) as live:
        yield live


async def test_streams_beyond_the_caps_are_refused_in_the_envelope(
    capped: LiveServer, infra: Infrastructure
):
    first, second, third = [await account(capped, infra, "pro") for _ in range(3)]
    jobs = []
    for client in (first, second, third):
        site = await client.add_site()
        jobs.append(await client.job(site["id"], [1]))
    async with opened(first, jobs[0]["id"]) as one:
        assert await one.next() is not None
        answer = await refused(first, f"/api/v1/jobs/{jobs[0]['id']}/stream")
        assert_error(answer, 429, "too_many_streams")
        assert answer.headers["Retry-After"]
        async with opened(second, jobs[1]["id"]) as two:
            assert await two.next() is not None
            answer = await refused(third, f"/api/v1/jobs/{jobs[2]['id']}/stream")
            assert_error(answer, 503, "too_many_streams")
    feed = capped.app.state.job_feed
    await eventually(lambda: asyncio.sleep(0, feed.open == 0), every=0.05)
    async with opened(third, jobs[2]["id"]) as three:  # room again
        assert await three.next() is not None


async def test_a_quiet_stream_gets_heartbeat_comments(pro: Client, monkeypatch: pytest.MonkeyPatch):
    from api import job_stream

    monkeypatch.setattr(job_stream, "HEARTBEAT_S", 0.05)
    site = await pro.add_site()
    job = await pro.job(site["id"], [1])
    async with opened(pro, job["id"]) as stream:
        seen = await stream.next()
        assert seen is not None
    # nothing to send since: the stream only says it is alive, until the job changes
    async with opened(pro, job["id"], last_event_id=seen.id) as stream:
        lines = []
        async with asyncio.timeout(60):
            while (line := await stream.response.content.readline()) != b": keepalive\n":
                lines.append(line)
        assert lines == [b"retry: 2000\n", b"\n"]
        assert (await pro.post(f"/api/v1/jobs/{job['id']}/cancel")).status == 202
        last = await stream.next()
        assert last is not None and last.event == "finished"
