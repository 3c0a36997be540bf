"""Access tokens are HS256 JWTs with a pinned algorithm: every forgery, expiry or missing
claim is refused with 401 before anything else happens."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.accounts import register
from tests.test_auth_api import assert_error


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def me(server, token: str) -> tuple[int, dict]:
    async with server.http.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        return r.status, await r.json()


async def test_access_token_has_the_pinned_algorithm_and_claims(server):
    tokens = await register(server)
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "HS256"
    claims = claims_of(tokens["access_token"])
    assert {"sub", "sid", "jti", "iat", "exp"} <= set(claims)
    assert claims["sub"] == tokens["user"]["id"]
    assert claims["exp"] - claims["iat"] == 900


async def test_expired_token_is_401_token_expired(server, settings):
    claims = claims_of((await register(server))["access_token"])
    now = int(time.time())
    claims.update(iat=now - 1000, exp=now - 100)
    status, body = await me(server, jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
    assert status == 401
    assert_error(body, "token_expired")


async def test_a_token_issued_in_the_future_is_401(server, settings):
    """`iat` is checked against the service's clock (pyjwt's check of it is off)."""
    claims = claims_of((await register(server))["access_token"])
    now = int(time.time())
    claims.update(iat=now + 600, exp=now + 1500)
    status, body = await me(server, jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
    assert status == 401
    assert_error(body, "invalid_token")


async def test_token_signed_with_another_secret_is_401(server):
    claims = claims_of((await register(server))["access_token"])
    forged = jwt.encode(claims, "another-secret-of-sufficient-length-0123456789", "HS256")
    status, body = await me(server, forged)
    assert status == 401
    assert_error(body, "invalid_token")


async def test_alg_none_token_is_401(server):
    claims = claims_of((await register(server))["access_token"])
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    status, body = await me(server, unsigned)
    assert status == 401
    assert_error(body, "invalid_token")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_another_hmac_algorithm_with_our_secret_is_401(server, settings):
    claims = claims_of((await register(server))["access_token"])
    status, body = await me(server, jwt.encode(claims, settings.jwt_secret, algorithm="HS512"))
    assert status == 401
    assert_error(body, "invalid_token")


@pytest.mark.parametrize("claim", ["sub", "sid", "exp", "jti", "iat"])
async def test_token_missing_a_required_claim_is_401(server, settings, claim):
    claims = claims_of((await register(server))["access_token"])
    del claims[claim]
    status, body = await me(server, jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
    assert status == 401
    assert_error(body, "invalid_token")


async def test_a_token_for_another_user_with_a_stolen_session_id_is_401(server, settings):
    """`sub` and `sid` must agree: a session does not lend itself to another account."""
    mine = claims_of((await register(server))["access_token"])
    theirs = claims_of((await register(server))["access_token"])
    mine["sub"] = theirs["sub"]
    status, body = await me(server, jwt.encode(mine, settings.jwt_secret, algorithm="HS256"))
    assert status == 401
    assert_error(body, "invalid_token")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer not.a.jwt"]
)
async def test_malformed_authorization_headers_are_401(server, header):
    async with server.http.get("/api/v1/users/me", headers={"Authorization": header}) as r:
        assert r.status == 401
        assert_error(await r.json(), "invalid_token")


def test_a_verified_token_is_remembered_yet_its_times_are_checked_on_every_read() -> None:
    """The process remembers tokens it verified (no signature check per request), never
    their validity in time, nor anything for a token that differs by one character."""
    from datetime import UTC, datetime, timedelta
    from uuid import uuid4

    from adapters.tokens import JwtAccessTokens
    from domain.errors import InvalidToken, TokenExpired

    tokens = JwtAccessTokens("s" * 48)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    account, session = uuid4(), uuid4()
    token = tokens.issue(account, session, now)
    first = tokens.read(token, now)
    assert (first.account_id, first.session_id) == (account, session)
    assert tokens.read(token, now + timedelta(minutes=14)) == first
    with pytest.raises(TokenExpired):
        tokens.read(token, now + timedelta(minutes=15))
    with pytest.raises(InvalidToken):
        tokens.read(token, now - timedelta(seconds=1))  # not valid yet
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidToken):
        tokens.read(f"{head}.{payload}.{flipped}", now)
