"""The SSRF guard holds for submissions: a directory whose form or endpoint is a private or
loopback address that BACKLYNK_FETCH_ALLOW_CIDRS does not allow is never contacted, not
even through a redirect, and its task fails for good with `directory_unavailable`."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from adapters.fetcher import Fetcher
from adapters.ssrf import AddressPolicy
from domain.services.delivery import deliver
from tests.flows.support import add_directories, delivery, json_directory, new_job, task_of


class Target:
    """A tiny web server on a loopback address that counts every request it gets."""

    def __init__(self, host: str, routes: list[web.RouteDef] | None = None):
        self.host = host
        self.hits: list[str] = []
        app = web.Application(middlewares=[self._count])
        app.add_routes(routes or [])
        app.router.add_route("*", "/{tail:.*}", self._ok)
        self.runner = web.AppRunner(app)
        self.base = ""

    @web.middleware
    async def _count(self, request: web.Request, handler) -> web.StreamResponse:
        self.hits.append(f"{request.method} {request.path}")
        return await handler(request)

    async def _ok(self, request: web.Request) -> web.Response:
        return web.json_response({"listing_url": f"{self.base}/listing"}, status=201)

    async def __aenter__(self) -> Target:
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, 0).start()
        self.base = f"http://{self.host}:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def guarded_fetcher(*allow: str) -> Fetcher:
    return Fetcher(AddressPolicy(ipaddress.ip_network(c) for c in allow))


@pytest.fixture
async def victim() -> AsyncIterator[Target]:
    """What an attacker would like to reach: a service on loopback (127.0.0.2, so that
    the allow-list of the redirect test can let 127.0.0.1 through and not this one)."""
    async with Target("127.0.0.2") as target:
        yield target


@pytest.mark.parametrize("method", ["form", "json"])
async def test_a_directory_on_a_blocked_address_fails_without_a_request(
    api, infra, isolated_settings, agency, victim, method
):
    await add_directories(infra, json_directory(22, f"{victim.base}/submit", method=method))
    _job, job_id, _ = await new_job(agency, [22])
    fetcher = guarded_fetcher()  # BACKLYNK_FETCH_ALLOW_CIDRS empty, as in production
    try:
        outcome = await deliver(delivery(infra, isolated_settings, fetcher=fetcher), job_id, 22)
    finally:
        await fetcher.close()
    assert outcome == "Failed"
    task = await task_of(infra, job_id, 22)
    assert (task.status, task.error.code, task.attempts) == ("failed", "directory_unavailable", 1)
    assert "127.0.0.2" in task.error.details
    assert victim.hits == []
    assert (await agency.usage())["reserved"] == 0


def redirect_to(location: str) -> web.RouteDef:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    return web.get("/submit", handler)


@pytest.mark.parametrize("method", ["form", "json"])
async def test_a_redirect_to_a_blocked_address_is_refused(
    api, infra, isolated_settings, agency, victim, method
):
    async def post_redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{victim.base}/submit")  # 307: POST again there

    routes = [redirect_to(f"{victim.base}/submit"), web.post("/submit", post_redirect)]
    async with Target("127.0.0.1", routes) as directory:
        await add_directories(infra, json_directory(23, f"{directory.base}/submit", method=method))
        _job, job_id, _ = await new_job(agency, [23])
        fetcher = guarded_fetcher("127.0.0.1/32")  # the directory's address only
        try:
            d = delivery(infra, isolated_settings, fetcher=fetcher)
            outcome = await deliver(d, job_id, 23)
        finally:
            await fetcher.close()
    assert directory.hits == [("GET" if method == "form" else "POST") + " /submit"]
    assert victim.hits == []
    assert outcome == "Failed"
    task = await task_of(infra, job_id, 23)
    assert (task.status, task.error.code) == ("failed", "directory_unavailable")
