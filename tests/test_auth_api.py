"""Registration, login, refresh-token rotation, logout and users/me, through the HTTP
API against real Postgres and Redis."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime

import pytest

from domain import ids
from domain.quota import Quota, period_of
from tests.accounts import PASSWORD, bearer, paid_account, register, unique_email


def assert_error(body: dict, code: str, field: str | None = None) -> None:
    assert set(body) == {"message", "error"}, body
    assert set(body["error"]) == {"code", "field", "details"}, body  # field always there
    assert body["error"]["code"] == code, body
    assert body["error"]["details"]
    if field is not None:
        assert body["error"]["field"] == field, body


async def count_accounts(infra) -> int:
    return await infra.pool.fetchval("SELECT count(*) FROM backlynk_events")


async def test_register_returns_the_user_on_the_free_plan_and_a_token_pair(server):
    email = unique_email()
    body = await register(server, email, name="  Ada   Lovelace ")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"] and body["refresh_token"] != body["access_token"]
    user = body["user"]
    assert re.fullmatch(r"usr_[0-9a-f]{32}", user["id"])
    assert user["email"] == email and user["name"] == "Ada Lovelace"
    assert user["plan"] == {
        "code": "free",
        "name": "Free",
        "price_usd": 0,
        "monthly_submissions": 0,
        "dr_cap": 0,  # a cap of 0, not "no cap" (null is Agency's alone)
        "api_access": False,
    }
    assert user["usage"]["used"] == 0 and user["usage"]["remaining"] == 0
    assert user["created_at"].endswith("Z")


async def test_users_me_shows_the_account_plan_and_this_months_usage(server, infra):
    tokens = await register(server)
    async with server.http.get("/api/v1/users/me", headers=bearer(tokens)) as r:
        assert r.status == 200
        me = await r.json()
    assert me["id"] == tokens["user"]["id"] and me["email"] == tokens["user"]["email"]
    assert set(me) >= {"id", "email", "name", "plan", "usage", "created_at", "updated_at"}
    usage = me["usage"]
    assert usage["period_start"][8:] == "01T00:00:00Z"  # first instant of the month, UTC
    assert usage["period_end"][8:] == "01T00:00:00Z" and usage["period_end"] > usage["period_start"]
    assert (usage["used"], usage["reserved"], usage["remaining"]) == (0, 0, 0)


@pytest.mark.parametrize(("plan", "dr_cap"), [("free", 0), ("pro", 50), ("agency", None)])
async def test_users_me_shows_the_plans_dr_cap_with_null_only_for_no_cap(
    server, infra, plan, dr_cap
):
    tokens = await (register(server) if plan == "free" else paid_account(server, infra, plan))
    async with server.http.get("/api/v1/users/me", headers=bearer(tokens)) as r:
        assert r.status == 200
        assert (await r.json())["plan"]["dr_cap"] == dr_cap


async def test_email_is_normalised_and_login_accepts_any_case(server):
    local = unique_email().split("@")[0]
    body = await register(server, f"  {local}@Example.COM ")
    assert body["user"]["email"] == f"{local}@example.com"
    async with server.http.post(
        "/api/v1/auth/login", json={"email": f"{local.upper()}@EXAMPLE.com", "password": PASSWORD}
    ) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["user"]["id"] == body["user"]["id"]


async def test_duplicate_registration_is_409_email_taken_and_changes_nothing(server, infra):
    email = unique_email()
    await register(server, email)
    before = await count_accounts(infra)
    async with server.http.post(
        "/api/v1/auth/register", json={"email": email.upper(), "password": PASSWORD}
    ) as r:
        assert r.status == 409
        assert_error(await r.json(), "email_taken", "email")
    assert await count_accounts(infra) == before


async def test_two_simultaneous_registrations_of_one_email_make_exactly_one_account(server):
    email = unique_email("race")

    async def attempt() -> int:
        async with server.http.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        ) as r:
            if r.status == 409:
                assert_error(await r.json(), "email_taken")
            return r.status

    statuses = await asyncio.gather(*(attempt() for _ in range(2)))
    assert sorted(statuses) == [201, 409]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"password": PASSWORD}, 422, "validation_failed", "email"),
        ({"email": "a@example.com"}, 422, "validation_failed", "password"),
        ({"email": 42, "password": PASSWORD}, 422, "validation_failed", "email"),
        (
            {"email": "a@example.com", "password": PASSWORD, "name": 7},
            422,
            "validation_failed",
            "name",
        ),
        ({"email": "not-an-email", "password": PASSWORD}, 422, "validation_failed", "email"),
        ({"email": "a@b", "password": PASSWORD}, 422, "validation_failed", "email"),
        ({"email": "a b@example.com", "password": PASSWORD}, 422, "validation_failed", "email"),
        ({"email": "a@example.com", "password": "short"}, 422, "validation_failed", "password"),
        ({"email": "a@example.com", "password": "x" * 1025}, 422, "validation_failed", "password"),
        ([], 400, "invalid_json", None),
    ],
)
async def test_bad_registration_input_is_refused_and_changes_nothing(
    server, infra, body, status, code, field
):
    before = await count_accounts(infra)
    async with server.http.post("/api/v1/auth/register", json=body) as r:
        assert r.status == status
        assert_error(await r.json(), code, field)
    assert await count_accounts(infra) == before


async def test_unknown_fields_are_ignored_and_passwords_of_10_and_1024_chars_are_fine(server):
    await register(server, password="p" * 10, is_admin=True, plan="agency")
    body = await register(server, password="p" * 1024)
    assert body["user"]["plan"]["code"] == "free"  # a body cannot choose its plan


async def test_non_json_body_is_400_and_wrong_media_type_415(server):
    async with server.http.post(
        "/api/v1/auth/login", data=b"{nope", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
        assert_error(await r.json(), "invalid_json")
    async with server.http.post(
        "/api/v1/auth/login", data=b"email=a", headers={"Content-Type": "text/plain"}
    ) as r:
        assert r.status == 415
        assert_error(await r.json(), "unsupported_media_type")


async def test_wrong_password_and_unknown_email_give_the_same_401(server):
    email = unique_email()
    await register(server, email)
    answers = []
    for attempt in (
        {"email": email, "password": "wrong password!"},
        {
            "email": unique_email("nobody"),
            "password": PASSWORD,
        },
    ):
        async with server.http.post(
            "/api/v1/auth/login", json=attempt, headers={"X-Forwarded-For": "10.99.0.2"}
        ) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            answers.append(await r.json())
    assert answers[0] == answers[1]
    assert_error(answers[0], "invalid_credentials")


@pytest.fixture
async def production_hashing(settings, infra):
    """The app with argon2's production parameters (the suite runs with cheap ones)."""
    import msgspec

    from api.app import create_app
    from tests.conftest import LiveServer

    real = msgspec.structs.replace(settings, fast_password_hashing=False)
    async with LiveServer(create_app(real, infra=infra)) as live:
        yield live


async def test_passwords_are_hashed_with_rfc_9106_parameters(production_hashing, infra):
    tokens = await register(production_hashing)
    from domain.account import Account

    account = await infra.repository.get(ids.decode("usr", tokens["user"]["id"]), Account)
    assert account.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_an_unknown_email_pays_for_a_full_password_verification(settings, infra):
    """The unknown-email path verifies against a dummy argon2 hash with the production
    parameters: without it, it would answer in a small fraction of the time and reveal
    which emails have accounts. Both paths run one verification of such a hash (how long
    each takes: bench/auth.py)."""
    import dataclasses

    import msgspec
    from argon2 import PasswordHasher, Type

    from adapters.passwords import Argon2Passwords
    from adapters.wiring import auth_ports
    from domain.errors import InvalidCredentials
    from domain.services import sessions

    verified: list[str] = []

    class Recording(PasswordHasher):  # argon2's own hasher, noting what it verifies
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

    real = msgspec.structs.replace(settings, fast_password_hashing=False)
    ports = dataclasses.replace(
        auth_ports(infra, real), passwords=Argon2Passwords(Recording(type=Type.ID))
    )
    email = unique_email()
    await sessions.register(ports, email, PASSWORD, "Someone")
    for tried in (email, unique_email("ghost")):
        with pytest.raises(InvalidCredentials):
            await sessions.login(ports, tried, "wrong-password", "10.99.0.1")
    assert len(verified) == 2, verified  # one each: the wrong password, the unknown email
    for password_hash in verified:
        assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), password_hash
    assert verified[0] != verified[1]  # the account's own hash, then the dummy


async def test_refresh_rotates_the_pair_and_the_old_refresh_token_is_spent(server):
    first = await register(server)
    async with server.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ) as r:
        assert r.status == 200
        second = await r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["user"]["id"] == first["user"]["id"]
    async with server.http.get("/api/v1/users/me", headers=bearer(second)) as r:
        assert r.status == 200


async def test_refresh_token_reuse_revokes_family(server):
    first = await register(server)
    async with server.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ) as r:
        second = await r.json()
    # the spent token comes back: someone else holds the family
    async with server.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ) as r:
        assert r.status == 401
        assert_error(await r.json(), "refresh_token_reused")
    # the newest refresh token no longer works, nor do the family's access tokens
    async with server.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    ) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_token")
    for tokens in (first, second):
        async with server.http.get("/api/v1/users/me", headers=bearer(tokens)) as r:
            assert r.status == 401
            assert_error(await r.json(), "invalid_token")
    # signing in again starts a fresh session
    async with server.http.post(
        "/api/v1/auth/login", json={"email": first["user"]["email"], "password": PASSWORD}
    ) as r:
        assert r.status == 200


@pytest.mark.parametrize("token", ["", "garbage", "0" * 32 + ".secret", "zz.secret"])
async def test_an_unknown_or_malformed_refresh_token_is_401(server, token):
    async with server.http.post("/api/v1/auth/refresh", json={"refresh_token": token}) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_token")


async def test_a_forged_secret_for_a_real_session_is_refused_without_revoking_it(server):
    tokens = await register(server)
    session = tokens["refresh_token"].split(".")[0]
    async with server.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": f"{session}.forged"}
    ) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_token")
    async with server.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ) as r:
        assert r.status == 200


async def test_logout_ends_the_session_at_once(server):
    tokens = await register(server)
    async with server.http.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    ) as r:
        assert r.status == 204
    async with server.http.get("/api/v1/users/me", headers=bearer(tokens)) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_token")
    async with server.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ) as r:
        assert r.status == 401
    # logging out twice is harmless
    async with server.http.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    ) as r:
        assert r.status == 204


async def test_logout_ends_only_its_own_session(server):
    email = unique_email()
    first = await register(server, email)
    async with server.http.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
    ) as r:
        second = await r.json()
    async with server.http.post(
        "/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]}
    ) as r:
        assert r.status == 204
    async with server.http.get("/api/v1/users/me", headers=bearer(second)) as r:
        assert r.status == 200


async def test_users_me_without_credentials_is_401(server):
    async with server.http.get("/api/v1/users/me") as r:
        assert r.status == 401
        assert_error(await r.json(), "authentication_required")


async def test_users_me_usage_follows_this_months_quota(server, infra):
    from projections.runner import wait_for

    tokens = await paid_account(server, infra, "pro")
    account_id = ids.decode("usr", tokens["user"]["id"])
    async with server.http.get("/api/v1/users/me", headers=bearer(tokens)) as r:
        shown = (await r.json())["usage"]
    # the month the API shows, not the test's clock: the two may straddle a month's end
    period = period_of(datetime.fromisoformat(shown["period_start"]))
    quota = Quota(account_id=account_id, period=period)
    job = uuid.uuid4()
    quota.reserve(job, 5, 150)
    quota.consume(job, 2)
    await infra.repository.save(quota)
    # written behind the API's back: wait until the read models show it
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, server.app.state.projections, latest, timeout=60)
    async with server.http.get("/api/v1/users/me", headers=bearer(tokens)) as r:
        usage = (await r.json())["usage"]
    assert (usage["used"], usage["reserved"], usage["remaining"]) == (2, 3, 145)


def test_the_credentials_read_are_the_first_of_each_header_as_starlette_gives_them():
    from starlette.requests import Request

    from api.auth import _credentials

    def request(*headers: tuple[bytes, bytes]) -> Request:
        return Request({"type": "http", "headers": list(headers)})

    both = request(
        (b"x-api-key", b"bk_live_first"),
        (b"authorization", b"Bearer \xe9"),
        (b"x-api-key", b"bk_live_second"),
        (b"authorization", b"Bearer second"),
    )
    assert _credentials(both) == ("Bearer \xe9", "bk_live_first")
    assert _credentials(both) == (
        both.headers.get("authorization"),
        both.headers.get("x-api-key"),
    )
    assert _credentials(request((b"host", b"x"))) == (None, None)
    assert _credentials(request((b"x-api-key", b""))) == (None, "")
