"""Sign-up and refresh are limited per client (IPv4 address or IPv6 /64), and password
hashing runs under a concurrency cap: a flood is answered 429 with `Retry-After` while the
process keeps answering everything else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest

from tests.accounts import PASSWORD, unique_email
from tests.conftest import LiveServer
from tests.test_auth_api import assert_error


@asynccontextmanager
async def app_with(isolated_settings, infra, **changes: Any) -> AsyncIterator[LiveServer]:
    from api.app import create_app

    settings = msgspec.structs.replace(isolated_settings, **changes)
    async with LiveServer(create_app(settings, infra=infra)) as live:
        yield live


async def post(
    live: LiveServer, path: str, body: dict[str, Any], ip: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    assert live.http
    async with live.http.post(path, json=body, headers={"X-Forwarded-For": ip}) as r:
        return r.status, await r.json(), dict(r.headers)


def assert_rate_limited(answer: tuple[int, dict[str, Any], dict[str, str]], window: int) -> None:
    status, body, headers = answer
    assert status == 429, body
    assert_error(body, "rate_limited")
    assert headers["Retry-After"].isdigit() and 1 <= int(headers["Retry-After"]) <= window


def signup(ip: str) -> tuple[str, dict[str, str], str]:
    return "/api/v1/auth/register", {"email": unique_email(), "password": PASSWORD}, ip


async def test_sign_ups_are_limited_per_client_per_hour(isolated_settings, infra):
    async with app_with(isolated_settings, infra, register_rate=2) as live:
        for _ in range(2):
            status, body, _ = await post(live, *signup("198.51.100.7"))
            assert status == 201, body
        path, refused_body, ip = signup("198.51.100.7")
        assert_rate_limited(await post(live, path, refused_body, ip), 3600)
        # the refused sign-up made no account
        status, body, _ = await post(live, "/api/v1/auth/login", refused_body, "198.51.100.9")
        assert status == 401 and body["error"]["code"] == "invalid_credentials"
        status, _, _ = await post(live, *signup("198.51.100.8"))
        assert status == 201


async def test_sign_ups_from_ipv6_are_counted_per_64(isolated_settings, infra):
    async with app_with(isolated_settings, infra, register_rate=2) as live:
        for host in ("2001:db8:5:5::1", "2001:db8:5:5::2"):
            status, _, _ = await post(live, *signup(host))
            assert status == 201
        assert_rate_limited(await post(live, *signup("2001:db8:5:5:abcd::9")), 3600)
        status, _, _ = await post(live, *signup("2001:db8:5:6::1"))
        assert status == 201


async def test_refreshes_are_limited_per_client_per_minute(isolated_settings, infra):
    async with app_with(isolated_settings, infra, refresh_rate=3) as live:
        _, tokens, _ = await post(live, *signup("198.51.100.20"))
        refresh_token = tokens["refresh_token"]
        for _ in range(3):
            status, body, _ = await post(
                live, "/api/v1/auth/refresh", {"refresh_token": refresh_token}, "198.51.100.21"
            )
            assert status == 200, body
            refresh_token = body["refresh_token"]
        refused = await post(
            live, "/api/v1/auth/refresh", {"refresh_token": refresh_token}, "198.51.100.21"
        )
        assert_rate_limited(refused, 60)
        # the refused request did nothing: the token it carried is still the current one
        status, body, _ = await post(
            live, "/api/v1/auth/refresh", {"refresh_token": refresh_token}, "198.51.100.22"
        )
        assert status == 200, body


@pytest.mark.xdist_group("heavy")  # argon2's production parameters, 24 at once
async def test_a_sign_in_flood_is_refused_with_retry_after_and_the_process_stays_up(
    isolated_settings, infra
):
    """One hash at a time and one waiting, with the production argon2 parameters: most of
    a 24-way flood is refused at once instead of queueing, and /healthz answers while
    the admitted ones are being hashed."""
    async with app_with(
        isolated_settings,
        infra,
        fast_password_hashing=False,
        password_concurrency=1,
        password_queue=1,
    ) as live:
        assert live.http
        flood = [
            asyncio.ensure_future(
                post(
                    live,
                    "/api/v1/auth/login",
                    {"email": unique_email("flood"), "password": PASSWORD},
                    f"192.0.2.{i + 1}",
                )
            )
            for i in range(24)
        ]
        await asyncio.wait(flood, return_when=asyncio.FIRST_COMPLETED)
        async with live.http.get("/healthz") as r:
            assert r.status == 200 and (await r.json()) == {"status": "ok"}
        answers = await asyncio.gather(*flood)
        # an admitted attempt is a wrong email (401); the others are refused (429)
        assert {status for status, _, _ in answers} <= {401, 429}
        refused = [a for a in answers if a[0] == 429]
        assert refused, [a[0] for a in answers]
        for answer in refused:
            assert_rate_limited(answer, 5)
        # the flood is over: the next sign-in is hashed again
        status, _, _ = await post(
            live,
            "/api/v1/auth/login",
            {"email": unique_email("after"), "password": PASSWORD},
            "192.0.2.200",
        )
        assert status == 401
