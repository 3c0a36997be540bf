"""BACKLYNK_FETCH_ALLOW_CIDRS is a development and test switch: the web process and the
worker say so in their log when they start with it set, and are silent without it."""

from __future__ import annotations

import logging

import msgspec
import pytest

from adapters.settings import Settings
from tests.conftest import LiveServer
from workers import tasks

WARNING = "BACKLYNK_FETCH_ALLOW_CIDRS is set"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and WARNING in r.getMessage()
    ]


@pytest.mark.parametrize("cidrs", [("127.0.0.0/8", "10.0.0.0/8"), ()])
async def test_the_web_process_warns_at_start_when_the_allow_list_is_set(
    settings: Settings, caplog: pytest.LogCaptureFixture, cidrs: tuple[str, ...]
) -> None:
    from api.app import create_app

    chosen = msgspec.structs.replace(settings, fetch_allow_cidrs=cidrs)
    caplog.set_level(logging.WARNING)
    async with LiveServer(create_app(chosen, in_process_projector=False)) as live:
        assert live.http
        async with live.http.get("/healthz") as response:
            assert response.status == 200
    found = warnings(caplog)
    if cidrs:
        assert len(found) == 1
        assert "127.0.0.0/8, 10.0.0.0/8" in found[0] and "never set it in production" in found[0]
    else:
        assert found == []


@pytest.mark.parametrize("cidrs", [("127.0.0.0/8",), ()])
async def test_the_worker_warns_at_start_when_the_allow_list_is_set(
    settings: Settings, caplog: pytest.LogCaptureFixture, cidrs: tuple[str, ...]
) -> None:
    ctx: dict = {"settings": msgspec.structs.replace(settings, fetch_allow_cidrs=cidrs)}
    caplog.set_level(logging.WARNING)
    await tasks.startup(ctx)
    await tasks.shutdown(ctx)
    assert len(warnings(caplog)) == (1 if cidrs else 0)
