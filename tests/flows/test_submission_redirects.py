"""A directory that redirects a submission to another host never hands that host the
catalogue's headers or the submission's body: 301/302/303 continue there as a GET without
either; a 307/308 that would re-send the body ends the submission for good. Within the
directory's own origin a 307 repeats the request, body and headers included."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web

from adapters.fetcher import Fetcher
from adapters.ssrf import AddressPolicy
from domain.services.delivery import deliver
from tests.flows.support import add_directories, delivery, json_directory, new_job, task_of

SECRET = "catalogue-secret-key"
Route = Callable[["Host", web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    api_key: str | None
    body: bytes


class Host:
    """A web server on one loopback address that records every request it receives."""

    def __init__(self, address: str, routes: dict[str, Route]):
        self.address = address
        self.routes = routes
        self.received: list[Received] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(app)
        self.base = ""

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(
                request.method,
                request.path,
                request.query_string,
                request.headers.get("X-Api-Key"),
                await request.read(),
            )
        )
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404)
        return await route(self, request)

    async def __aenter__(self) -> Host:
        await self.runner.setup()
        await web.TCPSite(self.runner, self.address, 0).start()
        self.base = f"http://{self.address}:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def redirect(status: int, to: Callable[[], str]) -> Route:
    async def handler(host: Host, request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": to()})

    return handler


async def listing(host: Host, request: web.Request) -> web.StreamResponse:
    return web.json_response({"listing_url": f"{host.base}/listing/1"})


async def thanks_page(host: Host, request: web.Request) -> web.StreamResponse:
    return web.Response(text="<p>Thank you, your site was submitted.</p>", content_type="text/html")


async def form_page(host: Host, request: web.Request) -> web.StreamResponse:
    form = '<form method="post" action="/post"><input name="url"><input name="title"></form>'
    return web.Response(text=f"<html><body>{form}</body></html>", content_type="text/html")


@pytest.fixture
async def elsewhere() -> AsyncIterator[Host]:
    """Another host (127.0.0.3) where the directory sends the submission."""
    async with Host("127.0.0.3", {"/thanks": listing, "/submit": listing}) as host:
        yield host


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    guarded = Fetcher(AddressPolicy([ipaddress.ip_network("127.0.0.0/8")]))
    yield guarded
    await guarded.close()


async def submit(api, infra, settings, agency, fetcher, entry: dict) -> tuple[str, object]:
    await add_directories(infra, entry)
    _job, job_id, _ = await new_job(agency, [entry["id"]])
    outcome = await deliver(delivery(infra, settings, fetcher=fetcher), job_id, entry["id"])
    return outcome, await task_of(infra, job_id, entry["id"])


async def test_a_303_to_another_host_gets_neither_headers_nor_body(
    api, infra, isolated_settings, agency, fetcher, elsewhere
):
    routes = {"/submit": redirect(303, lambda: f"{elsewhere.base}/thanks")}
    async with Host("127.0.0.1", routes) as directory:
        entry = json_directory(31, f"{directory.base}/submit", headers={"X-Api-Key": SECRET})
        outcome, task = await submit(api, infra, isolated_settings, agency, fetcher, entry)
    sent = directory.received[0]
    assert (sent.method, sent.api_key) == ("POST", SECRET) and b"Example Shop" in sent.body
    assert elsewhere.received == [Received("GET", "/thanks", "", None, b"")]
    assert outcome == "Submitted"
    assert task.status == "submitted"


@pytest.mark.parametrize("status", [307, 308])
async def test_a_307_or_308_to_another_host_ends_the_submission_without_sending_it(
    api, infra, isolated_settings, agency, fetcher, elsewhere, status
):
    routes = {"/submit": redirect(status, lambda: f"{elsewhere.base}/submit")}
    async with Host("127.0.0.1", routes) as directory:
        entry = json_directory(32, f"{directory.base}/submit", headers={"X-Api-Key": SECRET})
        outcome, task = await submit(api, infra, isolated_settings, agency, fetcher, entry)
    assert [r.method for r in directory.received] == ["POST"]
    assert elsewhere.received == []
    assert outcome == "Failed"
    assert (task.status, task.error.code) == ("failed", "directory_unavailable")
    assert "another host" in task.error.details and SECRET not in task.error.details


async def test_a_form_post_redirected_to_another_host_arrives_there_as_a_bare_get(
    api, infra, isolated_settings, agency, fetcher
):
    async with Host("127.0.0.3", {"/thanks": thanks_page}) as thanks:
        routes = {"/form": form_page, "/post": redirect(302, lambda: f"{thanks.base}/thanks")}
        async with Host("127.0.0.1", routes) as directory:
            entry = json_directory(
                33, f"{directory.base}/form", method="form", headers={"X-Api-Key": SECRET}
            )
            outcome, task = await submit(api, infra, isolated_settings, agency, fetcher, entry)
    assert [(r.method, r.path) for r in directory.received] == [("GET", "/form"), ("POST", "/post")]
    assert b"Example+Shop" in directory.received[1].body
    assert thanks.received == [Received("GET", "/thanks", "", None, b"")]
    assert (outcome, task.status) == ("Submitted", "submitted")


async def test_a_307_within_the_directory_repeats_the_request_with_body_and_headers(
    api, infra, isolated_settings, agency, fetcher
):
    routes = {"/submit": redirect(307, lambda: "/v2/submit"), "/v2/submit": listing}
    async with Host("127.0.0.1", routes) as directory:
        entry = json_directory(34, f"{directory.base}/submit", headers={"X-Api-Key": SECRET})
        outcome, task = await submit(api, infra, isolated_settings, agency, fetcher, entry)
    first, second = directory.received
    assert (second.method, second.path, second.api_key) == ("POST", "/v2/submit", SECRET)
    assert second.body == first.body and b"Example Shop" in second.body
    assert outcome == "Submitted"
    assert task.listing_url == f"{directory.base}/listing/1"
