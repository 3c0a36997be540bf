"""Fixtures of the core command-flow tests (sites, directories, jobs, quota), all through
the real HTTP API against real Postgres and Redis.

Two servers: `api` does not fetch landing pages (BACKLYNK_VERIFY_SITES=0), for tests about
everything but that check; `verifying_api` fetches them, through the app's own
SSRF-guarded fetcher, from a local HTTPS fixture site that a static resolver serves under
public host names (`*.example.com`), with a test CA."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from tests.checker.fetchers import make_fetcher
from tests.checker.sites import FixtureSite, StaticResolver, Tls, make_tls
from tests.conftest import LiveServer
from tests.core.client import Client, account

#: public host names the landing-page fixture site answers for (all loopback)
LANDING_HOSTS = {
    "shop.example.com": ["127.0.0.1"],
    "www.example.com": ["127.0.0.1"],
    "blog.example.com": ["127.0.0.1"],
    "intranet.example.com": ["10.1.2.3"],  # private: the SSRF guard refuses it
}


@pytest.fixture(scope="session")
def landing_tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("landing-tls"), ("example.com", "*.example.com"))


@pytest.fixture
async def landing_site(landing_tls: Tls) -> AsyncIterator[FixtureSite]:
    async with FixtureSite(landing_tls) as site:
        yield site


@pytest.fixture
async def landing_fetcher(landing_tls: Tls) -> AsyncIterator[Fetcher]:
    fetcher = make_fetcher(landing_tls, StaticResolver(LANDING_HOSTS))
    yield fetcher
    await fetcher.close()


@pytest.fixture
async def verifying_api(
    isolated_settings: Settings, infra: Infrastructure, landing_fetcher: Fetcher
) -> AsyncIterator[LiveServer]:
    from api.app import create_app

    infra.fetcher = landing_fetcher  # the app's one fetcher, as production wires it
    settings = msgspec.structs.replace(isolated_settings, verify_sites=True)
    app = create_app(settings, infra=infra, in_process_projector=True)
    async with LiveServer(app) as live:
        yield live


@pytest.fixture
async def pro(api: LiveServer, infra: Infrastructure) -> Client:
    return await account(api, infra, "pro")


@pytest.fixture
async def agency(api: LiveServer, infra: Infrastructure) -> Client:
    return await account(api, infra, "agency")
