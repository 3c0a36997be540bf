"""Repeated login failures per email and per client IP are refused with 429 and a
Retry-After, before any password is checked; counters live in Redis. An attempt is
counted before its password is checked, so a parallel burst gets no more checks than the
limit."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import msgspec
import pytest

from adapters.throttle import MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_IP, WINDOW_SECONDS
from tests.accounts import PASSWORD, register, unique_email
from tests.conftest import LiveServer
from tests.test_auth_api import assert_error


def from_ip(ip: str) -> dict[str, str]:
    # the test server trusts proxy headers from loopback, as uvicorn does by default
    return {"X-Forwarded-For": ip}


def random_ip() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


async def login(server, email: str, password: str, ip: str) -> tuple[int, dict, dict]:
    async with server.http.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, headers=from_ip(ip)
    ) as r:
        return r.status, await r.json(), dict(r.headers)


async def test_repeated_failures_for_one_email_are_429_with_retry_after(server):
    email = unique_email()
    await register(server, email)
    ip = random_ip()
    for _ in range(MAX_FAILURES_PER_EMAIL):
        status, body, _ = await login(server, email, "wrong password", ip)
        assert status == 401
    # now even the right password waits, from any address
    status, body, headers = await login(server, email, PASSWORD, random_ip())
    assert status == 429
    assert_error(body, "rate_limited")
    assert 0 < int(headers["Retry-After"]) <= WINDOW_SECONDS
    # another account is unaffected
    other = unique_email()
    await register(server, other)
    status, _, _ = await login(server, other, PASSWORD, ip)
    assert status == 200


async def test_repeated_failures_from_one_ip_are_429_for_every_email(server):
    email = unique_email()
    await register(server, email)
    ip = random_ip()
    for _ in range(MAX_FAILURES_PER_IP):
        status, _, _ = await login(server, unique_email("spray"), PASSWORD, ip)
        assert status == 401
    status, body, headers = await login(server, email, PASSWORD, ip)
    assert status == 429
    assert_error(body, "rate_limited")
    assert int(headers["Retry-After"]) > 0
    status, _, _ = await login(server, email, PASSWORD, random_ip())
    assert status == 200


async def test_a_successful_login_clears_the_email_counter(server):
    email = unique_email()
    await register(server, email)
    ip = random_ip()
    for _ in range(2):
        for _ in range(MAX_FAILURES_PER_EMAIL - 1):
            status, _, _ = await login(server, email, "wrong password", ip)
            assert status == 401
        status, _, _ = await login(server, email, PASSWORD, ip)
        assert status == 200


async def test_a_parallel_burst_for_one_email_gets_no_more_password_checks_than_the_limit(
    server,
):
    email = unique_email()
    await register(server, email)
    ip = random_ip()
    answers = await asyncio.gather(*(login(server, email, "wrong password", ip) for _ in range(20)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [401] * MAX_FAILURES_PER_EMAIL + [429] * (20 - MAX_FAILURES_PER_EMAIL)
    for status, body, headers in answers:
        if status == 429:
            assert_error(body, "rate_limited")
            assert 0 < int(headers["Retry-After"]) <= WINDOW_SECONDS


@pytest.fixture
async def roomy_server(settings, infra) -> AsyncIterator[LiveServer]:
    """The app with room for every admitted attempt to wait for a hash slot: on a busy
    machine a burst would otherwise also meet the hashing queue's own 429."""
    from api.app import create_app

    roomy = msgspec.structs.replace(settings, password_queue=10_000)
    async with LiveServer(create_app(roomy, infra=infra, in_process_projector=True)) as live:
        yield live


async def test_a_parallel_burst_from_one_ip_gets_no_more_password_checks_than_the_limit(
    roomy_server,
):
    server = roomy_server
    ip = random_ip()
    burst = MAX_FAILURES_PER_IP + 10
    answers = await asyncio.gather(
        *(login(server, unique_email("spray"), PASSWORD, ip) for _ in range(burst))
    )
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [401] * MAX_FAILURES_PER_IP + [429] * 10
    assert all(int(h["Retry-After"]) > 0 for s, _, h in answers if s == 429)


async def test_successful_logins_do_not_count_against_the_ip(server):
    """An office behind one address signs in all day: only failures count."""
    email = unique_email()
    await register(server, email)
    ip = random_ip()
    for _ in range(MAX_FAILURES_PER_IP + 2):
        status, body, _ = await login(server, email, PASSWORD, ip)
        assert status == 200, body
    status, _, _ = await login(server, unique_email("typo"), PASSWORD, ip)
    assert status == 401
