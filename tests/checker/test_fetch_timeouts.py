"""The fetch time limit, through the public endpoint: a short one (1.5 s) here only; the
other checker tests fetch with the production limit, as a busy machine may need."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from adapters.fetcher import Fetcher
from tests.checker.conftest import Checker
from tests.checker.fetchers import make_fetcher
from tests.checker.sites import FixtureSite, StaticResolver, Tls

LINK = '<html><body><a href="https://example.com/">Example</a></body></html>'

#: short, so that these tests are quick; every page below takes far longer than this
TIMEOUT = 1.5


@pytest.fixture
async def fetcher(tls: Tls, resolver: StaticResolver) -> AsyncIterator[Fetcher]:
    f = make_fetcher(tls, resolver, timeout=TIMEOUT)
    yield f
    await f.close()


async def test_timeout_before_headers(site: FixtureSite, check: Checker) -> None:
    async def never(request: web.BaseRequest) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.Response(text="late")

    url = site.handle("/never", never)
    result = await check.one(url)
    assert (result["finalUrl"], result["httpStatus"]) == (url, None)
    assert result["error"]["code"] == "timeout"


async def test_a_body_that_times_out_is_dead_even_with_status_200(
    site: FixtureSite, check: Checker
) -> None:
    async def trickle(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(LINK.encode())
        await asyncio.sleep(5)
        return response

    result = await check.one(site.handle("/trickle", trickle))
    assert (result["httpStatus"], result["error"]["code"]) == (200, "timeout")
    assert (result["hasLink"], result["indexable"]) == (False, False)


async def test_the_time_limit_covers_every_hop(site: FixtureSite, check: Checker) -> None:
    async def slow_redirect(request: web.BaseRequest) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        n = int(request.path.rsplit("/", 1)[1])
        return web.Response(status=302, headers={"Location": f"/slow-hop/{n + 1}"})

    for i in range(5):
        site.handle(f"/slow-hop/{i}", slow_redirect)
    result = await check.one(site.url("/slow-hop/0"))
    assert result["error"]["code"] == "timeout"
    # five hops of 0.6 s each would fit a limit per hop; in 1.5 s in all at most two are
    # answered (fewer when the machine is busy), the next cut short
    assert len(result["redirectChain"]) <= 2
