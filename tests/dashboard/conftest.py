"""Fixtures of the dashboard's tests: a visitor with a cookie jar, and a paid one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.wiring import auth_ports
from domain.services.accounts import set_plan
from tests.dashboard.pages import Browser


@pytest.fixture
async def visitor(api) -> AsyncIterator[Browser]:
    browser = Browser(api)
    try:
        yield browser
    finally:
        await browser.close()


@pytest.fixture
async def customer(api, infra) -> AsyncIterator[Browser]:
    """A visitor who registered through the form, moved to Pro as the CLI does."""
    browser = Browser(api)
    try:
        await browser.register()
        await set_plan(auth_ports(infra), browser.email, "pro")
        yield browser
    finally:
        await browser.close()
