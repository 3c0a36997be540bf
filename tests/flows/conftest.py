"""Fixtures of the in-process flow tests: the API (to set up accounts, sites and jobs as
a user does), the sandbox directories on a loopback port, an agency account."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest

from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.core.client import Client
from tests.core.conftest import account
from tests.workers_support import Sandbox


@pytest.fixture
def flow_settings(settings: Settings) -> Settings:
    """Own Redis namespace per test: queue, politeness keys."""
    return msgspec.structs.replace(
        settings, redis_namespace=f"test-{uuid.uuid4().hex[:12]}", verify_sites=False
    )


@pytest.fixture
async def api(flow_settings: Settings, infra: Infrastructure) -> AsyncIterator[LiveServer]:
    from api.app import create_app

    app = create_app(flow_settings, infra=infra, in_process_projector=True)
    async with LiveServer(app, free_port()) as live:
        yield live


@pytest.fixture
async def sandbox(infra: Infrastructure) -> AsyncIterator[Sandbox]:
    box = await Sandbox().start(infra.pool)
    yield box
    await box.close()


@pytest.fixture
async def agency(api: LiveServer, infra: Infrastructure) -> Client:
    return await account(api, infra, "agency")
