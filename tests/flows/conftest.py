"""Fixtures of the in-process flow tests: the API (to set up accounts, sites and jobs as
a user does), the sandbox directories on a loopback port, an agency account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.infrastructure import Infrastructure
from projections.runner import wait_for
from tests.conftest import LiveServer
from tests.core.client import Client, account
from tests.workers_support import Sandbox


@pytest.fixture
async def sandbox(infra: Infrastructure) -> AsyncIterator[Sandbox]:
    box = await Sandbox().start(infra.pool)
    yield box
    await box.close()


class CaughtUpClient(Client):
    """The flows write through the services, not the API, so nothing waits for the read
    models as a command would: every read here first waits until they show all events."""

    def __init__(self, infra: Infrastructure, client: Client):
        super().__init__(client.server, client.tokens, client.headers)
        self.infra = infra

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        if method == "GET":
            latest = await self.infra.store.max_notification_id()
            projections = self.server.app.state.projections
            assert await wait_for(self.infra.pool, projections, latest, timeout=60)
        return await super().call(method, path, **kw)


@pytest.fixture
async def agency(api: LiveServer, infra: Infrastructure) -> Client:
    return CaughtUpClient(infra, await account(api, infra, "agency"))
