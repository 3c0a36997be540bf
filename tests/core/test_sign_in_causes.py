"""Who did it, before anyone is signed in: register, login, refresh, a reused refresh token,
logout, and the dashboard's sign-up, sign-in, pages and sign-out each record as their
cause the account they act for, the session they start, refresh or end (by id) and how the
caller showed who they are, beside the request id — through the real HTTP API and the
dashboard's forms, read back from `GET /api/v1/audit` (JSON and CSV). No password and no
token is in the store, the audit read model, the audit's answers or `backlynk events
export`. Causes stored before `identified_by` existed still load and render."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.transcoder import _fast_decoder
from adapters.wiring import auth_ports
from domain import ids
from domain.job import Job
from domain.services.accounts import set_plan
from tests.accounts import unique_email
from tests.core.client import Client
from tests.core.test_audit_api import AUDIT, audit, session_of, settled
from tests.dashboard.pages import Browser
from tests.test_cli_users import backlynk

pytestmark = pytest.mark.usefixtures("catalogue")

#: a password no other test uses, so that finding it anywhere is this test's leak
SECRET_PASSWORD = "causes-never-store-this-Pa55word"


async def _post(server: Any, path: str, body: dict[str, Any], request_id: str) -> Any:
    async with server.http.post(path, json=body, headers={"X-Request-Id": request_id}) as r:
        text = await r.text()
        return r.status, (msgspec.json.decode(text) if text else None)


def _by_request(entries: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["cause"] and e["cause"]["request_id"] == request_id]


def _request_cause(
    name: str, request_id: str, account: str, session: str, by: str
) -> dict[str, Any]:
    return {
        "kind": "request",
        "name": name,
        "request_id": request_id,
        "account_id": account,
        "credential": {"type": "session", "id": session},
        "identified_by": by,
    }


async def _nowhere(infra: Any, settings: Any, client: Client, secrets: list[str]) -> None:
    """None of `secrets` is in the store, the audit read model, the audit's JSON or CSV,
    or the CLI's export of every event."""
    rows = await infra.pool.fetch("SELECT state FROM backlynk_events")
    stored = b"".join(r["state"] for r in rows)
    projected = "".join(
        r["row"] for r in await infra.pool.fetch("SELECT audit::text AS row FROM audit")
    )
    shown = msgspec.json.encode(await audit(client)).decode()
    exported_csv = (await client.get(AUDIT, format="csv")).body
    code, exported, err = await backlynk(settings, "events", "export")
    assert code == 0, err
    assert exported.count("\n") == len(rows)  # one line per event
    for secret in secrets:
        assert secret.encode() not in stored
        for text in (projected, shown, exported_csv, exported):
            assert secret not in text


async def test_api_sign_ins_name_the_account_and_the_session(api, infra, settings):
    email = unique_email("causes")
    status, first = await _post(
        api,
        "/api/v1/auth/register",
        {"email": email, "password": SECRET_PASSWORD},
        "cause-register",
    )
    assert status == 201, first
    me = first["user"]["id"]
    status, second = await _post(
        api, "/api/v1/auth/login", {"email": email, "password": SECRET_PASSWORD}, "cause-login"
    )
    assert status == 200, second
    spent = second["refresh_token"]
    status, refreshed = await _post(
        api, "/api/v1/auth/refresh", {"refresh_token": spent}, "cause-refresh"
    )
    assert status == 200, refreshed
    # the spent token comes back: the session is revoked, and that names it too
    status, reused = await _post(
        api, "/api/v1/auth/refresh", {"refresh_token": spent}, "cause-reuse"
    )
    assert status == 401 and reused["error"]["code"] == "refresh_token_reused", reused
    status, _ = await _post(
        api, "/api/v1/auth/logout", {"refresh_token": first["refresh_token"]}, "cause-logout"
    )
    assert status == 204
    await set_plan(auth_ports(infra), email, "pro")  # the audit is a paid feature
    status, reader = await _post(
        api, "/api/v1/auth/login", {"email": email, "password": SECRET_PASSWORD}, "cause-reader"
    )
    assert status == 200
    client = Client(api, reader)
    await settled(infra)
    entries = await audit(client)

    s1, s2 = session_of(api, first), session_of(api, second)
    assert session_of(api, refreshed) == s2
    expected = {
        "cause-register": (
            "POST /api/v1/auth/register",
            s1,
            "sign_up",
            [("Account.Registered", me), ("AuthSession.Started", s1)],
        ),
        "cause-login": (
            "POST /api/v1/auth/login",
            s2,
            "password",
            [("AuthSession.Started", s2)],
        ),
        "cause-refresh": (
            "POST /api/v1/auth/refresh",
            s2,
            "refresh_token",
            [("AuthSession.Refreshed", s2)],
        ),
        "cause-reuse": (
            "POST /api/v1/auth/refresh",
            s2,
            "refresh_token",
            [("AuthSession.Revoked", s2)],
        ),
        "cause-logout": (
            "POST /api/v1/auth/logout",
            s1,
            "refresh_token",
            [("AuthSession.Revoked", s1)],
        ),
    }
    for request_id, (name, session, by, events) in expected.items():
        found = _by_request(entries, request_id)
        assert [(e["type"], e["aggregate_id"]) for e in found] == events, request_id
        for e in found:
            assert e["cause"] == _request_cause(name, request_id, me, session, by)
    [reuse] = _by_request(entries, "cause-reuse")
    assert reuse["summary"]["because"] == "refresh_token_reused"
    [logout] = _by_request(entries, "cause-logout")
    assert logout["summary"]["because"] == "logout"

    # the CSV says the same, column by column
    rows = list(csv.DictReader(io.StringIO((await client.get(AUDIT, format="csv")).body)))
    for request_id, (_, session, by, events) in expected.items():
        found = [r for r in rows if r["request_id"] == request_id]
        assert [r["type"] for r in found] == [t for t, _ in events]
        for r in found:
            assert (r["account_id"], r["credential_type"], r["credential_id"]) == (
                me,
                "session",
                session,
            )
            assert r["identified_by"] == by

    tokens = [
        t[k] for t in (first, second, refreshed, reader) for k in ("access_token", "refresh_token")
    ]
    await _nowhere(infra, settings, client, [SECRET_PASSWORD, *tokens])


async def test_dashboard_sign_ins_and_pages_name_the_cookie_session(api, infra, settings):
    browser = Browser(api)
    try:
        email = unique_email("dash-causes")
        page = await browser.get("/dashboard/register")
        signed_up = await browser.post(
            "/dashboard/register",
            {"csrf_token": page.csrf, "email": email, "password": SECRET_PASSWORD},
            follow=False,
            headers={"X-Request-Id": "dash-register"},
        )
        assert signed_up.status == 303, signed_up.text
        first_cookie = browser.cookie("bk_session")
        await set_plan(auth_ports(infra), email, "pro")  # sites and the audit are paid
        overview = await browser.get("/dashboard")
        out = await browser.post(
            "/dashboard/sign-out",
            {"csrf_token": overview.csrf},
            follow=False,
            headers={"X-Request-Id": "dash-sign-out"},
        )
        assert out.status == 303 and browser.cookie("bk_session") is None
        page = await browser.get("/dashboard/sign-in")
        signed_in = await browser.post(
            "/dashboard/sign-in",
            {"csrf_token": page.csrf, "email": email, "password": SECRET_PASSWORD},
            follow=False,
            headers={"X-Request-Id": "dash-sign-in"},
        )
        assert signed_in.status == 303, signed_in.text
        second_cookie = browser.cookie("bk_session")
        sites = await browser.get("/dashboard/sites")
        added = await browser.post(
            "/dashboard/sites",
            {"csrf_token": sites.csrf, "url": "https://causes.example.com/", "name": "Shop"},
            follow=False,
            headers={"X-Request-Id": "dash-add-site"},
        )
        assert added.status == 303, added.text
    finally:
        await browser.close()
    assert first_cookie and second_cookie and first_cookie != second_cookie
    cookies = api.app.state.auth.refresh_tokens
    d1 = ids.encode("ses", cookies.read(first_cookie).session_id)
    d2 = ids.encode("ses", cookies.read(second_cookie).session_id)

    status, reader = await _post(
        api, "/api/v1/auth/login", {"email": email, "password": SECRET_PASSWORD}, "dash-reader"
    )
    assert status == 200
    client = Client(api, reader)
    await settled(infra)
    entries = await audit(client)
    me = reader["user"]["id"]
    expected = {
        "dash-register": ("POST /dashboard/register", d1, "sign_up"),
        # the sign-out spends the cookie's refresh token, but the cookie identified it
        "dash-sign-out": ("POST /dashboard/sign-out", d1, "session_cookie"),
        "dash-sign-in": ("POST /dashboard/sign-in", d2, "password"),
        "dash-add-site": ("POST /dashboard/sites", d2, "session_cookie"),
    }
    types = {}
    for request_id, (name, session, by) in expected.items():
        found = _by_request(entries, request_id)
        assert found, request_id
        types[request_id] = [e["type"] for e in found]
        for e in found:
            assert e["cause"] == _request_cause(name, request_id, me, session, by)
    assert types["dash-register"] == ["Account.Registered", "AuthSession.Started"]
    assert types["dash-sign-out"] == ["AuthSession.Revoked"]
    assert types["dash-sign-in"] == ["AuthSession.Started"]
    assert "Site.Registered" in types["dash-add-site"]

    tokens = [first_cookie, second_cookie, reader["access_token"], reader["refresh_token"]]
    await _nowhere(infra, settings, client, [SECRET_PASSWORD, *tokens])


def _stored(aggregate_id: uuid.UUID, version: int, topic: str, state: dict) -> StoredEvent:
    return StoredEvent(aggregate_id, version, topic, msgspec.json.encode(state))


async def test_causes_stored_before_identified_by_load_and_render(api, infra):
    """Events of the current class versions whose cause has no `identified_by` (as the
    code before it wrote them) load, project and render with `identified_by` null."""
    status, tokens = await _post(
        api,
        "/api/v1/auth/register",
        {"email": unique_email("old-cause"), "password": SECRET_PASSWORD},
        "old-cause-register",
    )
    assert status == 201
    await set_plan(auth_ports(infra), tokens["user"]["email"], "pro")
    client = Client(api, tokens)
    site = await client.add_site()
    account = ids.decode("usr", tokens["user"]["id"])
    session = uuid.uuid4()
    old_cause = {  # the stored shape before `identified_by`
        "kind": "request",
        "name": "POST /api/v1/jobs",
        "request_id": "old-1",
        "account_id": account.hex,
        "credential": "session",
        "credential_id": session.hex,
    }
    job_id = uuid.uuid4()
    task = {
        "directory_id": 1,
        "directory_name": "Directory 1",
        "status": "pending",
        "attempts": 0,
        "listing_url": None,
        "backlink_id": None,
        "error": None,
    }
    await infra.store.append(
        [
            _stored(
                job_id,
                1,
                "domain.job:Job.Created",
                {
                    "timestamp": "2026-11-20T10:00:00.123456Z",
                    "originator_topic": "domain.job:Job",
                    "account_id": account.hex,
                    "site_id": ids.decode("site", site["id"]).hex,
                    "period": "2026-11",
                    "tasks": [task],
                    "class_version": 2,
                    "cause": old_cause,
                },
            ),
            _stored(
                job_id,
                2,
                "domain.job:Job.Started",
                {"timestamp": "2026-11-20T10:00:01Z", "class_version": 2, "cause": old_cause},
            ),
        ]
    )
    # both ways of decoding give the cause, with `identified_by` not recorded
    mapper = infra.repository.mapper
    for stored in await infra.store.read(job_id):
        assert _fast_decoder(stored.topic).decode(stored.state) is not None  # one step
        fast = mapper.to_domain_event(stored)
        general = mapper.general_domain_event(stored)
        assert fast.cause == general.cause
        assert fast.cause.request_id == "old-1" and fast.cause.identified_by is None
    assert (await infra.repository.get(job_id, Job)).account_id == account

    await settled(infra)
    public = ids.encode("job", job_id)
    expected = {
        "kind": "request",
        "name": "POST /api/v1/jobs",
        "request_id": "old-1",
        "account_id": tokens["user"]["id"],
        "credential": {"type": "session", "id": ids.encode("ses", session)},
        "identified_by": None,
    }
    events = (await client.get(f"/api/v1/jobs/{public}/events")).body["data"]
    assert [e["cause"] for e in events] == [expected, expected]
    shown = [e for e in await audit(client) if e["aggregate_id"] == public]
    assert [e["cause"] for e in shown] == [expected, expected]
    rows = list(csv.DictReader(io.StringIO((await client.get(AUDIT, format="csv")).body)))
    old = [r for r in rows if r["aggregate_id"] == public]
    assert [(r["request_id"], r["identified_by"]) for r in old] == [("old-1", "")] * 2
