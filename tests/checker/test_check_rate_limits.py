"""Resource limits of the backlink checker: the public endpoint counts checks and URLs per
minute per client (an IPv4 address, or an IPv6 /64), the authenticated one per account by
plan (domain/plans.py). Every refusal is 429 `rate_limited` with `Retry-After` in whole
seconds, and fetches nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from domain.plans import PRO
from tests.accounts import bearer, paid_account
from tests.checker.sites import FixtureSite
from tests.conftest import LiveServer

LINK = '<a href="https://example.com/">example</a>'
PUBLIC = "/api/v1/public/check-backlinks"
ACCOUNT = "/api/v1/directories/check-backlinks"


@pytest.fixture
async def limited(
    checker_settings: Settings, infra: Infrastructure, fetcher: Fetcher
) -> AsyncIterator[LiveServer]:
    """The public checker with 100 checks but only 4 URLs per minute per client."""
    from api.app import create_app

    infra.fetcher = fetcher
    settings = msgspec.structs.replace(checker_settings, public_check_urls=4)
    async with LiveServer(create_app(settings, infra=infra)) as live:
        yield live


async def post(
    live: LiveServer, path: str, urls: list[str], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    assert live.http
    body = {"domain": "example.com", "urls": urls}
    async with live.http.post(path, json=body, headers=headers or {}) as r:
        return r.status, await r.json(), dict(r.headers)


def assert_rate_limited(status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited" and body["error"]["details"]
    assert headers["Retry-After"].isdigit() and 1 <= int(headers["Retry-After"]) <= 60


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_public_urls_are_capped_per_minute_per_client(site: FixtureSite, limited):
    url = site.page("/u", LINK)
    status, body, _ = await post(limited, PUBLIC, [f"{url}?a", f"{url}?b", f"{url}?c"])
    assert status == 200 and body["checked"] == 3
    # 3 + 2 > 4: refused whole, fetching nothing, and spending nothing
    assert_rate_limited(*await post(limited, PUBLIC, [f"{url}?d", f"{url}?e"]))
    assert site.hits["/u"] == 3
    status, body, _ = await post(limited, PUBLIC, [f"{url}?f"])
    assert status == 200 and site.hits["/u"] == 4
    # another client has its own budget
    status, _, _ = await post(limited, PUBLIC, [f"{url}?g", f"{url}?h"], from_ip("203.0.113.9"))
    assert status == 200


async def test_invalid_urls_cost_nothing(site: FixtureSite, limited):
    url = site.page("/v", LINK)
    for _ in range(3):
        status, body, _ = await post(limited, PUBLIC, [url, url, "ftp://x.example/"])
        assert status == 422 and body["error"]["code"] == "invalid_url"
    status, _, _ = await post(limited, PUBLIC, [f"{url}?{i}" for i in range(4)])
    assert status == 200 and site.hits["/v"] == 4


async def test_ipv6_clients_are_limited_per_64(site: FixtureSite, limited):
    url = site.page("/six", LINK)
    one = from_ip("2001:db8:7:1::1")
    same_64 = from_ip("2001:db8:7:1:ffff:eeee:dddd:cccc")
    other_64 = from_ip("2001:db8:7:2::1")
    status, _, _ = await post(limited, PUBLIC, [f"{url}?{i}" for i in range(4)], one)
    assert status == 200
    assert_rate_limited(*await post(limited, PUBLIC, [f"{url}?x"], same_64))
    status, _, _ = await post(limited, PUBLIC, [f"{url}?y"], other_64)
    assert status == 200
    assert site.hits["/six"] == 5


async def test_public_checks_are_counted_per_64_too(
    site: FixtureSite, checker_settings: Settings, infra: Infrastructure, fetcher: Fetcher
):
    from api.app import create_app

    infra.fetcher = fetcher
    settings = msgspec.structs.replace(checker_settings, public_check_rate=2)
    url = site.page("/r6", LINK)
    async with LiveServer(create_app(settings, infra=infra)) as live:
        for host in ("2001:db8:9:1::a", "2001:db8:9:1::b"):
            status, _, _ = await post(live, PUBLIC, [url], from_ip(host))
            assert status == 200
        assert_rate_limited(*await post(live, PUBLIC, [url], from_ip("2001:db8:9:1::c")))
    assert site.hits["/r6"] == 2


async def test_the_authenticated_checker_counts_checks_per_account_by_plan(api, infra):
    tokens = await paid_account(api, infra, "pro")
    for _ in range(PRO.checks_per_minute):
        status, body, _ = await post(api, ACCOUNT, [], bearer(tokens))
        assert status == 422  # no URL: refused by validation, but counted as a check
    assert_rate_limited(*await post(api, ACCOUNT, ["http://10.0.0.1/"], bearer(tokens)))
    # another account of the same plan is unaffected
    other = await paid_account(api, infra, "pro")
    status, body, _ = await post(api, ACCOUNT, ["http://10.0.0.1/"], bearer(other))
    assert status == 200, body


async def test_the_authenticated_checker_counts_urls_per_account_by_plan(api, infra):
    """URLs to a private address are refused by the SSRF guard without a connection, so
    a plan's whole URL budget is spent here without fetching anything."""
    tokens = await paid_account(api, infra, "pro")
    per_check = 25
    checks = PRO.check_urls_per_minute // per_check
    assert checks < PRO.checks_per_minute  # so that it is the URL budget that runs out
    for n in range(checks):
        urls = [f"http://10.0.0.1/{n}/{i}" for i in range(per_check)]
        status, body, _ = await post(api, ACCOUNT, urls, bearer(tokens))
        assert status == 200 and body["checked"] == per_check
        assert {r["error"]["code"] for r in body["results"]} == {"blocked_address"}
    assert_rate_limited(*await post(api, ACCOUNT, ["http://10.0.0.1/last"], bearer(tokens)))
