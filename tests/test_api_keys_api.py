"""API keys: paid plans only, created within the plan's limit, shown once, stored as a
hash, listed newest first with cursor pagination, revoked at once."""

from __future__ import annotations

import asyncio
import hashlib
import re

import pytest

from adapters.wiring import auth_ports
from domain.services.accounts import set_plan
from projections.runner import wait_for
from tests.accounts import bearer, create_key, paid_account, register
from tests.test_auth_api import assert_error


def with_key(key: str) -> dict[str, str]:
    return {"x-api-key": key}


async def test_free_plan_gets_403_plan_required_on_api_keys(server, infra):
    tokens = await register(server)
    before = await infra.pool.fetchval("SELECT count(*) FROM backlynk_events")
    async with server.http.post(
        "/api/v1/api-keys", json={"name": "x"}, headers=bearer(tokens)
    ) as r:
        assert r.status == 403
        assert_error(await r.json(), "plan_required")
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        assert r.status == 403
        assert_error(await r.json(), "plan_required")
    assert await infra.pool.fetchval("SELECT count(*) FROM backlynk_events") == before


async def test_api_keys_need_credentials(server):
    async with server.http.get("/api/v1/api-keys") as r:
        assert r.status == 401
        assert_error(await r.json(), "authentication_required")


async def test_create_shows_the_key_once_and_stores_only_its_hash(server, infra):
    tokens = await paid_account(server, infra)
    created = await create_key(server, tokens, "  deploy   bot ")
    assert set(created) == {
        "id",
        "name",
        "key",
        "prefix",
        "created_at",
        "updated_at",
        "last_used_at",
    }
    assert re.fullmatch(r"key_[0-9a-f]{32}", created["id"])
    assert created["name"] == "deploy bot" and created["last_used_at"] is None
    key = created["key"]
    assert re.fullmatch(r"bk_live_[A-Za-z0-9_-]{40}", key)  # 240 random bits
    assert key.startswith(created["prefix"]) and len(created["prefix"]) < len(key) - 30
    # the secret is nowhere in the event store; its sha256 is
    states = b"".join(r[0] for r in await infra.pool.fetch("SELECT state FROM backlynk_events"))
    assert key.encode() not in states
    assert hashlib.sha256(key.encode()).hexdigest().encode() in states
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        listed = (await r.json())["data"]
    assert listed == [{k: v for k, v in created.items() if k != "key"}]


async def test_an_api_key_authenticates_as_its_account(server, infra):
    tokens = await paid_account(server, infra)
    key = (await create_key(server, tokens))["key"]
    async with server.http.get("/api/v1/users/me", headers=with_key(key)) as r:
        assert r.status == 200
        me = await r.json()
    assert me["id"] == tokens["user"]["id"] and me["plan"]["code"] == "pro"
    async with server.http.get("/api/v1/api-keys", headers=with_key(key)) as r:
        assert r.status == 200


async def test_last_used_at_is_recorded_at_most_once_a_minute(server, infra):
    tokens = await paid_account(server, infra)
    created = await create_key(server, tokens)
    for _ in range(5):
        async with server.http.get("/api/v1/users/me", headers=with_key(created["key"])) as r:
            assert r.status == 200
    uses = await infra.pool.fetchval(
        "SELECT count(*) FROM backlynk_events WHERE topic = 'domain.api_key:ApiKey.Used'"
    )
    assert uses == 1
    # the Used event is not waited for: wait until the read models show every event
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, server.app.state.projections, latest, timeout=60)
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        last_used = (await r.json())["data"][0]["last_used_at"]
    assert last_used and last_used >= created["created_at"]


async def test_revoked_key_is_refused_at_once_and_disappears_from_the_list(server, infra):
    tokens = await paid_account(server, infra)
    created = await create_key(server, tokens)
    async with server.http.get("/api/v1/users/me", headers=with_key(created["key"])) as r:
        assert r.status == 200
    async with server.http.delete(f"/api/v1/api-keys/{created['id']}", headers=bearer(tokens)) as r:
        assert r.status == 204
    async with server.http.get("/api/v1/users/me", headers=with_key(created["key"])) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_api_key")
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        assert (await r.json())["data"] == []
    async with server.http.delete(f"/api/v1/api-keys/{created['id']}", headers=bearer(tokens)) as r:
        assert r.status == 404
        assert_error(await r.json(), "not_found")


@pytest.mark.parametrize(
    "key", ["bk_live_" + "A" * 40, "bk_live_short", "sk_live_" + "A" * 40, "", "bk_live_"]
)
async def test_unknown_or_malformed_api_key_is_401(server, key):
    async with server.http.get("/api/v1/users/me", headers=with_key(key)) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_api_key")


async def test_another_accounts_key_cannot_be_revoked_it_is_404(server, infra):
    owner = await paid_account(server, infra)
    created = await create_key(server, owner)
    intruder = await paid_account(server, infra)
    for key_id in (created["id"], "key_" + "0" * 32, "usr_" + created["id"][4:], "key_nothex"):
        async with server.http.delete(f"/api/v1/api-keys/{key_id}", headers=bearer(intruder)) as r:
            assert r.status == 404
            assert_error(await r.json(), "not_found")
    async with server.http.get("/api/v1/users/me", headers=with_key(created["key"])) as r:
        assert r.status == 200


async def test_bearer_and_api_key_of_different_accounts_are_401(server, infra):
    first = await paid_account(server, infra)
    second = await paid_account(server, infra)
    key = (await create_key(server, second))["key"]
    headers = {**bearer(first), **with_key(key)}
    async with server.http.get("/api/v1/users/me", headers=headers) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_token")
    # both naming the same account is fine
    own_key = (await create_key(server, first))["key"]
    async with server.http.get(
        "/api/v1/users/me", headers={**bearer(first), **with_key(own_key)}
    ) as r:
        assert r.status == 200


async def test_key_limit_of_the_plan_is_422_api_key_limit_reached(server, infra):
    tokens = await paid_account(server, infra, "pro")
    for i in range(5):
        await create_key(server, tokens, f"key {i}")
    async with server.http.post(
        "/api/v1/api-keys", json={"name": "one too many"}, headers=bearer(tokens)
    ) as r:
        assert r.status == 422
        assert_error(await r.json(), "api_key_limit_reached")
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        assert len((await r.json())["data"]) == 5
    # revoking one makes room again
    async with server.http.get("/api/v1/api-keys?limit=1", headers=bearer(tokens)) as r:
        newest = (await r.json())["data"][0]
    async with server.http.delete(f"/api/v1/api-keys/{newest['id']}", headers=bearer(tokens)):
        pass
    await create_key(server, tokens, "replacement")


async def test_concurrent_creations_never_exceed_the_key_limit(server, infra):
    tokens = await paid_account(server, infra, "pro")

    async def attempt(i: int) -> int:
        async with server.http.post(
            "/api/v1/api-keys", json={"name": f"k{i}"}, headers=bearer(tokens)
        ) as r:
            return r.status

    statuses = await asyncio.gather(*(attempt(i) for i in range(8)))
    assert statuses.count(201) == 5
    assert set(statuses) <= {201, 422, 409}
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        assert len((await r.json())["data"]) == 5


async def test_downgrade_to_free_refuses_existing_keys_on_the_next_request(server, infra):
    tokens = await paid_account(server, infra, "agency")
    key = (await create_key(server, tokens))["key"]
    await set_plan(auth_ports(infra), tokens["user"]["email"], "free")
    async with server.http.get("/api/v1/api-keys", headers=with_key(key)) as r:
        assert r.status == 403
        assert_error(await r.json(), "plan_required")


@pytest.mark.parametrize(
    ("body", "field"), [({}, "name"), ({"name": 5}, "name"), ({"name": "   "}, "name")]
)
async def test_bad_key_input_is_422_and_creates_nothing(server, infra, body, field):
    tokens = await paid_account(server, infra)
    async with server.http.post("/api/v1/api-keys", json=body, headers=bearer(tokens)) as r:
        assert r.status == 422
        assert_error(await r.json(), "validation_failed", field)
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        assert (await r.json())["data"] == []


async def test_list_is_newest_first_with_cursor_pagination(server, infra):
    tokens = await paid_account(server, infra, "agency")
    names = [f"key {i}" for i in range(7)]
    for name in names:
        await create_key(server, tokens, name)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/api/v1/api-keys?limit=3" + (f"&cursor={cursor}" if cursor else "")
        async with server.http.get(url, headers=bearer(tokens)) as r:
            assert r.status == 200
            page = await r.json()
        pages += 1
        assert page["pagination"]["limit"] == 3
        seen += [k["name"] for k in page["data"]]
        if pages == 1:
            # a key created while paging appears only before the first page, never later
            await create_key(server, tokens, "late")
        cursor = page["pagination"]["next_cursor"]
        assert page["pagination"]["has_more"] == (cursor is not None)
        if cursor is None:
            break
    assert seen == list(reversed(names))
    assert pages == 3
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        page = await r.json()
    assert page["pagination"] == {"limit": 50, "has_more": False, "next_cursor": None}
    assert page["data"][0]["name"] == "late"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=x", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=InN0cmluZyI", "cursor"),
    ],
)
async def test_bad_pagination_parameters_are_422(server, infra, query, field):
    tokens = await paid_account(server, infra)
    async with server.http.get(f"/api/v1/api-keys?{query}", headers=bearer(tokens)) as r:
        assert r.status == 422
        assert_error(await r.json(), "validation_failed", field)


async def test_a_plan_change_applies_to_the_next_request(server, infra):
    tokens = await register(server)
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        assert r.status == 403
    await set_plan(auth_ports(infra), tokens["user"]["email"], "pro")
    async with server.http.get("/api/v1/api-keys", headers=bearer(tokens)) as r:
        assert r.status == 200
    async with server.http.get("/api/v1/users/me", headers=bearer(tokens)) as r:
        assert (await r.json())["plan"]["code"] == "pro"
