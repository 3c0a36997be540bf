"""Fixtures of the backlink-checker tests: a fixture web site over HTTP and HTTPS, a
fetcher that trusts its test CA and resolves test host names statically, and the app
wired to that fetcher."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure, open_infrastructure
from adapters.settings import Settings
from tests.checker.apps import checker_app
from tests.checker.fetchers import make_fetcher
from tests.checker.sites import FixtureSite, StaticResolver, Tls, make_tls
from tests.conftest import LiveServer

RESOLVER_TABLE = {
    "site.test": ["127.0.0.1"],
    "www.site.test": ["127.0.0.1"],
    "blog.site.test": ["127.0.0.1"],
    "directory.site.test": ["127.0.0.1"],
    "other.test": ["127.0.0.1"],  # not in the server certificate
    "private.test": ["10.20.30.40"],  # RFC 1918
    "metadata-alias.test": ["169.254.169.254"],  # cloud metadata, link-local
    "cgnat.test": ["100.64.1.2"],
    "mapped.test": ["::ffff:10.0.0.1"],
    "mixed.test": ["127.0.0.1", "10.0.0.1"],  # one private answer spoils the lookup
    "nat64.test": ["64:ff9b::a00:1"],  # NAT64 of 10.0.0.1
    "compat.test": ["::7f00:1"],  # IPv4-compatible ::127.0.0.1
    "sixtofour.test": ["2002:a00:1::1"],  # 6to4 embedding 10.0.0.1
    "sitelocal.test": ["fec0::1"],
}


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def site(tls: Tls) -> AsyncIterator[FixtureSite]:
    async with FixtureSite(tls) as fixture_site:
        yield fixture_site


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver(RESOLVER_TABLE)


@pytest.fixture
async def fetcher(tls: Tls, resolver: StaticResolver) -> AsyncIterator[Fetcher]:
    f = make_fetcher(tls, resolver)
    yield f
    await f.close()


@pytest.fixture
def checker_settings(settings: Settings) -> Settings:
    """`settings` (this test's own Redis namespace: no rate-limit window leaks between
    tests) with a public check rate that no test reaches by accident."""
    return msgspec.structs.replace(settings, public_check_rate=1000)


@pytest.fixture
async def app_server(
    checker_settings: Settings, infra: Infrastructure, fetcher: Fetcher
) -> AsyncIterator[LiveServer]:
    async with LiveServer(checker_app(checker_settings, infra, fetcher)) as live:
        yield live


class Checker:
    """Posts to the public endpoint the way a client would."""

    def __init__(self, live: LiveServer):
        self.live = live

    async def post(self, body: object, **kw: Any) -> tuple[int, Any]:
        assert self.live.http
        async with self.live.http.post("/api/v1/public/check-backlinks", json=body, **kw) as r:
            return r.status, await r.json()

    async def one(self, url: str, domain: str = "example.com") -> dict[str, Any]:
        status, body = await self.post({"domain": domain, "urls": [url]})
        assert status == 200, body
        assert body["checked"] == 1
        return body["results"][0]


@pytest.fixture
def check(app_server: LiveServer) -> Checker:
    return Checker(app_server)


def one_server_per_module() -> tuple[Any, Any, Any]:
    """`site`, `check` and an autouse fixture, for a module whose tests only read pages
    through the public endpoint (which writes nothing): one fixture site and one server
    serve the whole module, and the site's pages and counts are emptied before each test.
    The module runs its tests in one event loop:
    `pytestmark = pytest.mark.asyncio(loop_scope="module")`."""

    @pytest_asyncio.fixture(scope="module", loop_scope="module")
    async def site(tls: Tls) -> AsyncIterator[FixtureSite]:
        async with FixtureSite(tls) as fixture_site:
            yield fixture_site

    @pytest.fixture(autouse=True)
    def fresh_site(site: FixtureSite) -> None:
        site.pages.clear()
        site.hits.clear()
        site.user_agents.clear()

    @pytest_asyncio.fixture(scope="module", loop_scope="module")
    async def check(session_settings: Settings, tls: Tls) -> AsyncIterator[Checker]:
        settings = msgspec.structs.replace(
            session_settings,
            redis_namespace=f"{session_settings.redis_namespace}:{uuid.uuid4().hex[:10]}",
            public_check_rate=100_000,  # the module's checks all come from one client
            public_check_urls=100_000,
        )
        infra = await open_infrastructure(settings, pool_size=2)
        fetcher = make_fetcher(tls, StaticResolver(RESOLVER_TABLE))
        try:
            async with LiveServer(checker_app(settings, infra, fetcher)) as live:
                yield Checker(live)
        finally:
            await fetcher.close()
            await infra.close()

    return site, check, fresh_site
