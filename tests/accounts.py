"""Helpers for tests that need accounts: sign up through the HTTP API, and move an
account to a paid plan through the same service the `backlynk users set-plan` CLI uses."""

from __future__ import annotations

import uuid
from typing import Any

from adapters.wiring import auth_ports
from domain.services.accounts import set_plan

PASSWORD = "correct horse battery staple"


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def register(server: Any, email: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"email": email or unique_email(), "password": PASSWORD, **extra}
    async with server.http.post("/api/v1/auth/register", json=body) as r:
        payload = await r.json()
        assert r.status == 201, payload
        return payload


async def paid_account(server: Any, infra: Any, plan: str = "pro") -> dict[str, Any]:
    """A registered account moved to `plan`; returns its token response."""
    tokens = await register(server)
    await set_plan(auth_ports(infra), tokens["user"]["email"], plan)
    return tokens


async def create_key(server: Any, tokens: dict[str, Any], name: str = "ci") -> dict[str, Any]:
    async with server.http.post(
        "/api/v1/api-keys", json={"name": name}, headers=bearer(tokens)
    ) as r:
        payload = await r.json()
        assert r.status == 201, payload
        return payload
