"""`backlynk users create|set-plan` and `backlynk demo load`, run as real processes
against the test database; the results are checked through the HTTP API."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from adapters.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.accounts import PASSWORD, unique_email
from tests.test_auth_api import assert_error

CLI = str(Path(sys.executable).with_name("backlynk"))


async def backlynk(settings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET": settings.jwt_secret,
        "BACKLYNK_REDIS_NAMESPACE": settings.redis_namespace,
    }
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def login(server, email: str, password: str) -> tuple[int, dict]:
    async with server.http.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    ) as r:
        return r.status, await r.json()


async def plan_of(server, tokens: dict) -> str:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with server.http.get("/api/v1/users/me", headers=headers) as r:
        return (await r.json())["plan"]["code"]


async def test_users_create_makes_an_account_that_can_sign_in(server, settings):
    email = unique_email("cli")
    code, out, err = await backlynk(
        settings, "users", "create", "--email", email, "--password", PASSWORD, "--plan", "pro"
    )
    assert code == 0, err
    assert "pro" in out
    status, tokens = await login(server, email, PASSWORD)
    assert status == 200 and tokens["user"]["plan"]["code"] == "pro"


async def test_users_create_refuses_bad_input_with_one_line_and_nonzero_exit(server, settings):
    email = unique_email("cli")
    assert (await backlynk(settings, "users", "create", "--email", email, "--password", PASSWORD))[
        0
    ] == 0
    cases = [
        ("--email", email, "--password", PASSWORD),  # taken
        ("--email", "not-an-email", "--password", PASSWORD),
        ("--email", unique_email(), "--password", "short"),
        ("--email", unique_email(), "--password", PASSWORD, "--plan", "platinum"),
    ]
    for case in cases:
        code, _out, err = await backlynk(settings, "users", "create", *case)
        assert code != 0, case
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("backlynk: "), err
    status, _body = await login(server, "not-an-email", PASSWORD)
    assert status == 401


async def test_users_set_plan_takes_effect_on_the_next_request(server, settings):
    email = unique_email("cli")
    await backlynk(settings, "users", "create", "--email", email, "--password", PASSWORD)
    _, tokens = await login(server, email, PASSWORD)
    assert await plan_of(server, tokens) == "free"
    code, _, err = await backlynk(settings, "users", "set-plan", email, "agency")
    assert code == 0, err
    assert await plan_of(server, tokens) == "agency"
    for args in ((email, "gold"), (unique_email("nobody"), "pro"), ("bad email", "pro")):
        code, _out, err = await backlynk(settings, "users", "set-plan", *args)
        assert code != 0
        assert len(err.strip().splitlines()) == 1 and err.startswith("backlynk: "), err
    assert await plan_of(server, tokens) == "agency"


async def test_demo_load_is_idempotent_and_the_demo_account_signs_in(server, settings):
    for _ in range(2):
        code, out, err = await backlynk(settings, "demo", "load")
        assert code == 0, err
        assert DEMO_EMAIL in out
    status, tokens = await login(server, DEMO_EMAIL, DEMO_PASSWORD)
    assert status == 200
    assert tokens["user"]["plan"]["code"] == "agency"
    status, body = await login(server, DEMO_EMAIL, "wrong password")
    assert status == 401
    assert_error(body, "invalid_credentials")
