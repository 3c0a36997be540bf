"""The demo sandbox that `make run` loads (`backlynk demo load`): idempotent, so it can
run on every start. Each part is one function; `load_demo` runs them in order."""

from __future__ import annotations

import logging

import asyncpg
import msgspec

from adapters.demo.sandbox import DEFAULT_PORT, catalogue
from adapters.directories import upsert
from domain.directory import parse_catalogue
from domain.errors import NotFound
from domain.ports import AuthPorts
from domain.services.accounts import create_account, find_by_email, set_plan

log = logging.getLogger("backlynk.demo")

DEMO_EMAIL = "demo@backlynk.io"
DEMO_PASSWORD = "demo-password-123"
DEMO_PLAN = "agency"
SANDBOX_URL = f"http://127.0.0.1:{DEFAULT_PORT}"


async def ensure_demo_account(ports: AuthPorts) -> str:
    """Create the demo account, or put an existing one back on the demo plan. Its
    password is left alone if it exists (someone may have changed it on purpose)."""
    try:
        account = await find_by_email(ports, DEMO_EMAIL)
    except NotFound:
        await create_account(
            ports, DEMO_EMAIL, DEMO_PASSWORD, name="Demo Agency", plan_code=DEMO_PLAN
        )
        return "created"
    if account.plan_code != DEMO_PLAN:
        await set_plan(ports, DEMO_EMAIL, DEMO_PLAN)
        return "plan reset"
    return "present"


async def ensure_demo_catalogue(pool: asyncpg.Pool, base_url: str = SANDBOX_URL) -> int:
    """The sandbox directories (served by `backlynk sandbox`) as the catalogue."""
    entries = parse_catalogue(msgspec.json.encode(catalogue(base_url)))
    async with pool.acquire() as conn:
        return await upsert(conn, entries)


async def load_demo(ports: AuthPorts, pool: asyncpg.Pool) -> list[str]:
    """Everything the demo needs; returns one line per part for the CLI to print."""
    return [
        f"demo account {DEMO_EMAIL}: {await ensure_demo_account(ports)}",
        f"demo catalogue: {await ensure_demo_catalogue(pool)} sandbox directories at {SANDBOX_URL}",
    ]
