"""Fixtures of the public pages' tests: the demo sandbox catalogue (the one `make run`
loads), an agency account's deliveries through the application services the workers call,
and every string that would identify a directory or a customer if a page showed it."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from adapters.directories import upsert
from adapters.infrastructure import Infrastructure
from domain.directory import Directory, parse_catalogue
from tests.conftest import LiveServer
from tests.core.client import Client, account

DEMO: list[Directory] = parse_catalogue(
    resources.files("adapters.demo").joinpath("directories.json").read_bytes()
)


@pytest.fixture
async def demo_catalogue(infra: Infrastructure) -> list[Directory]:
    async with infra.pool.acquire() as conn:
        await upsert(conn, DEMO)
    return DEMO


@pytest.fixture
async def agency(api: LiveServer, infra: Infrastructure) -> Client:
    return await account(api, infra, "agency")


def catalogue_secrets(catalogue: list[Directory]) -> list[str]:
    """Every directory's name and URLs (homepage, form or endpoint, listing template up to
    its first placeholder), and the host they live on."""
    out: list[str] = []
    for d in catalogue:
        out += [d.name, d.homepage_url, d.submit_url]
        if d.listing_url_template:
            out.append(d.listing_url_template.split("{")[0])
    out.append("127.0.0.1:8001")  # the sandbox's host
    return out


def customer_secrets(sites: list[dict[str, Any]]) -> list[str]:
    return [s[k] for s in sites for k in ("url", "domain", "name")]


def assert_nothing_identifying(text: str, secrets: list[str], where: str) -> None:
    lowered = text.casefold()
    leaked = [s for s in secrets if s.casefold() in lowered]
    assert leaked == [], f"{where} shows {leaked}"
