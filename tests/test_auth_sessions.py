"""A session's state is bounded however often it is refreshed, every earlier refresh
token is still recognised as spent, a session ends 30 days after sign-in, and sessions
stored in the first shape (a hash per spent refresh token) still load."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import StoredEvent

from domain import ids
from domain.auth_session import SESSION_LIFETIME, AuthSession
from tests.accounts import bearer, register
from tests.test_auth_api import assert_error

REFRESHES = 60


async def refresh(server, token: str) -> tuple[int, dict]:
    async with server.http.post("/api/v1/auth/refresh", json={"refresh_token": token}) as r:
        return r.status, await r.json()


def session_id(tokens: dict) -> uuid.UUID:
    return uuid.UUID(hex=tokens["refresh_token"].split(".")[0])


def state_size(session: AuthSession) -> int:
    return len(msgspec.json.encode(Snapshot.take(session).state))


async def test_a_session_keeps_bounded_state_and_recognises_every_spent_token(server, infra):
    tokens = await register(server)
    issued = [tokens["refresh_token"]]
    sizes = []
    for _ in range(REFRESHES):
        status, body = await refresh(server, issued[-1])
        assert status == 200, body
        issued.append(body["refresh_token"])
        session = await infra.repository.get(session_id(tokens), AuthSession)
        sizes.append(state_size(session))
    assert len(set(issued)) == REFRESHES + 1
    # the same size after 60 refreshes as after 10 (the generation is two digits)
    assert sizes[9] == sizes[-1] < 400, sizes
    assert session.generation == REFRESHES

    # any earlier token revokes the session...
    status, body = await refresh(server, issued[REFRESHES // 2])
    assert status == 401
    assert_error(body, "refresh_token_reused")
    status, body = await refresh(server, issued[-1])
    assert status == 401
    assert_error(body, "invalid_token")
    # ...and every one of them is still known for what it is
    for spent in issued[:-1]:
        status, body = await refresh(server, spent)
        assert status == 401
        assert_error(body, "refresh_token_reused")


async def test_a_forged_or_future_generation_is_refused_without_revoking(server):
    tokens = await register(server)
    sid, generation, mac = tokens["refresh_token"].split(".")
    for forged in (f"{sid}.{generation}.{'A' * 43}", f"{sid}.1.{mac}", f"{sid}.01.{mac}"):
        status, body = await refresh(server, forged)
        assert status == 401
        assert_error(body, "invalid_token", "refresh_token")
    status, _ = await refresh(server, tokens["refresh_token"])
    assert status == 200


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def test_a_session_ends_30_days_after_sign_in_however_often_refreshed(server):
    clock = MovableClock()
    server.app.state.auth = dataclasses.replace(server.app.state.auth, clock=clock)
    tokens = await register(server)
    token = tokens["refresh_token"]
    for offset in (timedelta(days=10), timedelta(days=20), SESSION_LIFETIME - timedelta(minutes=5)):
        clock.offset = offset
        status, body = await refresh(server, token)
        assert status == 200, body
        token = body["refresh_token"]
    access = body  # valid for 15 minutes by itself
    clock.offset = SESSION_LIFETIME + timedelta(seconds=1)
    status, body = await refresh(server, token)
    assert status == 401
    assert_error(body, "token_expired")
    assert "30 days" in body["error"]["details"]
    # the access tokens of the ended session end with it
    async with server.http.get("/api/v1/users/me", headers=bearer(access)) as r:
        assert r.status == 401
        assert_error(await r.json(), "token_expired")


def old_event(sid: uuid.UUID, version: int, name: str, state: dict) -> StoredEvent:
    return StoredEvent(
        originator_id=sid,
        originator_version=version,
        topic=f"domain.auth_session:AuthSession.{name}",
        state=msgspec.json.encode({"timestamp": "2026-11-20T10:00:00Z", **state}),
    )


def old_history(sid: uuid.UUID, account: uuid.UUID, rotations: int) -> list[StoredEvent]:
    """What version 1 stored: the first token's hash, then one `Rotated` per refresh."""
    end = (datetime.now(UTC) + timedelta(days=20)).isoformat().replace("+00:00", "Z")
    events = [
        old_event(
            sid,
            1,
            "Started",
            {
                "originator_topic": "domain.auth_session:AuthSession",
                "account_id": account.hex,
                "token_hash": "h0",
                "expires_at": end,
            },
        )
    ]
    for n in range(1, rotations + 1):
        state = {"presented_hash": f"h{n - 1}", "new_hash": f"h{n}", "now": end}
        events.append(old_event(sid, n + 1, "Rotated", {**state, "expires_at": end}))
    return events


async def test_sessions_stored_in_the_first_shape_still_load(server, infra):
    tokens = await register(server)
    account = ids.decode("usr", tokens["user"]["id"])
    live, ended = uuid.uuid4(), uuid.uuid4()
    await infra.store.append(old_history(live, account, rotations=2))
    await infra.store.append(old_history(ended, account, rotations=2))
    # a version-1 snapshot of the second one, revoked at logout
    snapshot_state = {
        "_created_on": "2026-11-20T10:00:00Z",
        "_modified_on": "2026-11-20T11:00:00Z",
        "account_id": account.hex,
        "token_hash": "h2",
        "spent_hashes": ["h0", "h1"],
        "expires_at": "2099-01-01T00:00:00Z",
        "revoked_at": "2026-11-20T11:00:00Z",
        "revoked_because": "logout",
    }
    await infra.store.put_snapshot(
        StoredEvent(
            originator_id=ended,
            originator_version=3,
            topic="eventsourcing.domain:Snapshot",
            state=msgspec.json.encode(
                {
                    "timestamp": "2026-11-20T11:00:00Z",
                    "topic": "domain.auth_session:AuthSession",
                    "state": snapshot_state,
                }
            ),
        )
    )

    session = await infra.repository.get(live, AuthSession)
    assert (session.account_id, session.generation, session.is_revoked) == (account, 0, False)
    assert session.version == 3
    assert not hasattr(session, "spent_hashes") and not hasattr(session, "token_hash")
    revoked = await infra.repository.get(ended, AuthSession)
    assert revoked.is_revoked and revoked.revoked_because == "logout"

    # an access token of the old session still works; one of the ended session does not
    ports = server.app.state.auth
    now = datetime.now(UTC)
    live_access = {"access_token": ports.tokens.issue(account, live, now)}
    async with server.http.get("/api/v1/users/me", headers=bearer(live_access)) as r:
        assert r.status == 200, await r.text()
    ended_access = {"access_token": ports.tokens.issue(account, ended, now)}
    async with server.http.get("/api/v1/users/me", headers=bearer(ended_access)) as r:
        assert r.status == 401
    # a version-1 refresh token (`<session>.<random>`) is no longer accepted
    status, body = await refresh(server, f"{live.hex}.{'x' * 43}")
    assert status == 401
    assert_error(body, "invalid_token", "refresh_token")
    # the old session takes new events after its old ones, and ends like any other
    async with server.http.post(
        "/api/v1/auth/logout", json={"refresh_token": ports.refresh_tokens.issue(live, 0)}
    ) as r:
        assert r.status == 204, await r.text()
    assert (await infra.repository.get(live, AuthSession)).is_revoked
