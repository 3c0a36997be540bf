"""Fixtures of the in-process flow tests: the API (to set up accounts, sites and jobs as
a user does), the sandbox directories on a loopback port, an agency account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.infrastructure import Infrastructure
from tests.conftest import LiveServer
from tests.core.client import Client
from tests.core.conftest import account
from tests.workers_support import Sandbox


@pytest.fixture
async def sandbox(infra: Infrastructure) -> AsyncIterator[Sandbox]:
    box = await Sandbox().start(infra.pool)
    yield box
    await box.close()


@pytest.fixture
async def agency(api: LiveServer, infra: Infrastructure) -> Client:
    return await account(api, infra, "agency")
