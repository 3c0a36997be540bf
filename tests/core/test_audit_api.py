"""Who did it: every event records its cause — a request (its account, its credential's
id, its request id), a worker task, a cron job, a CLI command — shown by
`GET /api/v1/jobs/{id}/events` and by `GET /api/v1/audit` (the account's events in
commit order, paged, filtered, CSV), through the real HTTP API, the real worker task
function and the real CLI process. Events stored before causes existed (raw rows as the
old code wrote them) still load, render and project, with a null cause."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.causes import caused_by
from adapters.queue import TaskQueue
from domain import ids
from domain.cause import Cause, CauseKind
from domain.job import Job, JobStatus
from projections.registry import read_models
from projections.runner import wait_for
from tests.accounts import PASSWORD, create_key, paid_account, register
from tests.core.client import Client, assert_error
from tests.flows.support import delivery as wired_delivery
from tests.test_cli_users import backlynk
from workers import tasks

pytestmark = pytest.mark.usefixtures("catalogue")

AUDIT = "/api/v1/audit"


async def settled(infra: Any) -> None:
    """Every read model has passed the last event written (a bound, not a timing)."""
    last = await infra.store.max_notification_id()
    assert await wait_for(infra.read_pool, read_models(), last, timeout=30)


async def audit(client: Client, **params: Any) -> list[dict[str, Any]]:
    """Every entry the account's audit lists for `params`, page by page."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        a = await client.get(AUDIT, **params, **({"cursor": cursor} if cursor else {}))
        assert a.status == 200, a.body
        entries += a.body["data"]
        cursor = a.body["pagination"]["next_cursor"]
        if cursor is None:
            return entries


def session_of(server: Any, tokens: dict[str, Any]) -> str:
    claims = server.app.state.auth.tokens.read(tokens["access_token"], datetime.now(UTC))
    return ids.encode("ses", claims.session_id)


async def login(server: Any, email: str) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD}
    async with server.http.post("/api/v1/auth/login", json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def refresh(server: Any, token: str) -> int:
    async with server.http.post("/api/v1/auth/refresh", json={"refresh_token": token}) as r:
        return r.status


async def test_a_request_records_its_account_credential_and_request_id(api, pro: Client, infra):
    site = await pro.add_site()
    created = await pro.call(
        "POST",
        "/api/v1/jobs",
        json={"site_id": site["id"], "directory_ids": [1, 2]},
        headers={"X-Request-Id": "trace-bearer-1"},
    )
    assert created.status == 202, created.body
    job_id = created.body["id"]
    key = await create_key(api, pro.tokens, "deploy")
    keyed = pro.with_headers({"x-api-key": key["key"]})
    canceled = await keyed.call(
        "POST", f"/api/v1/jobs/{job_id}/cancel", headers={"X-Request-Id": "trace-key-2"}
    )
    assert canceled.status == 202, canceled.body

    events = (await pro.get(f"/api/v1/jobs/{job_id}/events")).body["data"]
    assert [e["type"] for e in events] == ["Job.Created", "Job.Canceled"]
    me = pro.tokens["user"]["id"]
    assert events[0]["cause"] == {
        "kind": "request",
        "name": "POST /api/v1/jobs",
        "request_id": "trace-bearer-1",
        "account_id": me,
        "credential": {"type": "session", "id": session_of(api, pro.tokens)},
        "identified_by": "access_token",
    }
    assert events[1]["cause"] == {
        "kind": "request",
        "name": f"POST /api/v1/jobs/{job_id}/cancel",
        "request_id": "trace-key-2",
        "account_id": me,
        "credential": {"type": "api_key", "id": key["id"]},
        "identified_by": "api_key",
    }

    # the audit shows the same causes; no secret is stored or shown anywhere
    await settled(infra)
    entries = await audit(pro)
    job_entries = [e for e in entries if e["aggregate_id"] == job_id]
    assert [(e["type"], e["cause"]) for e in job_entries] == [
        (e["type"], e["cause"]) for e in events
    ]
    stored = b"".join(
        r["state"] for r in await infra.pool.fetch("SELECT state FROM backlynk_events")
    )
    for secret in (key["key"], pro.tokens["access_token"], pro.tokens["refresh_token"]):
        assert secret.encode() not in stored
        assert secret not in msgspec.json.encode(entries).decode()
    # the key's use is saved as the key is checked, and names it too
    [used] = [e for e in entries if e["type"] == "ApiKey.Used"]
    assert used["aggregate_id"] == key["id"] and used["cause"] == events[1]["cause"]
    key_entry = next(e for e in entries if e["type"] == "ApiKey.Created")
    assert key_entry["aggregate_id"] == key["id"]
    assert "key_hash" not in key_entry["summary"] and key_entry["summary"]["name"] == "deploy"


async def test_a_worker_task_records_itself_as_the_cause(pro: Client, infra, settings):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1])
    queue = TaskQueue(settings)
    try:
        # the arq task function itself, with the context the worker gives it
        ctx = {"queue": queue, "delivery": wired_delivery(infra, settings)}
        job_uuid = ids.decode("job", job["id"])
        assert await tasks.run_job(ctx, job_uuid.hex) == 1
    finally:
        await queue.close()
    events = (await pro.get(f"/api/v1/jobs/{job['id']}/events")).body["data"]
    started = next(e for e in events if e["type"] == "Job.Started")
    assert started["cause"] == {
        "kind": "worker",
        "name": "run_job",
        "request_id": None,
        "account_id": None,
        "credential": None,
        "identified_by": None,
    }
    await settled(infra)
    [entry] = await audit(pro, type="Job.Started")
    assert entry["aggregate_id"] == job["id"] and entry["cause"]["kind"] == "worker"


async def test_a_cli_command_records_itself_as_the_cause(api, infra, settings):
    tokens = await register(api)
    code, _, err = await backlynk(settings, "users", "set-plan", tokens["user"]["email"], "pro")
    assert code == 0, err
    client = Client(api, await login(api, tokens["user"]["email"]))
    await settled(infra)
    [changed] = await audit(client, type="Account.PlanChanged")
    assert changed["cause"] == {
        "kind": "cli",
        "name": "users set-plan",
        "request_id": None,
        "account_id": None,
        "credential": None,
        "identified_by": None,
    }
    assert changed["summary"] == {"plan_code": "pro"}
    assert changed["aggregate_id"] == tokens["user"]["id"]
    # the sign-up and the sign-ins were requests, before anyone was signed in, acting for
    # the account they made or signed in to (`test_sign_in_causes`)
    registered = (await audit(client, type="Account.Registered"))[0]
    assert registered["cause"]["kind"] == "request"
    assert registered["cause"]["name"] == "POST /api/v1/auth/register"
    assert registered["cause"]["account_id"] == tokens["user"]["id"]
    assert registered["cause"]["identified_by"] == "sign_up"
    assert "password_hash" not in registered["summary"]
    logins = await audit(client, type="AuthSession.Started")
    assert len(logins) == 2  # register and login each start a session


async def test_audit_lists_every_kind_of_account_event_in_commit_order(api, pro: Client, infra):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2])
    assert (await pro.post(f"/api/v1/jobs/{job['id']}/cancel")).status == 202
    assert (await pro.patch(f"/api/v1/sites/{site['id']}", {"name": "Renamed"})).status == 200
    key = await create_key(api, pro.tokens)
    assert (await pro.delete(f"/api/v1/api-keys/{key['id']}")).status == 204
    # a second session whose refresh token is used twice: the reuse ends it
    second = await login(api, pro.email)
    assert await refresh(api, second["refresh_token"]) == 200
    assert await refresh(api, second["refresh_token"]) == 401
    await settled(infra)

    entries = await audit(pro)
    positions = [e["position"] for e in entries]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    types = [e["type"] for e in entries]
    for expected in (
        "Account.Registered",
        "AuthSession.Started",
        "Account.PlanChanged",
        "Site.Registered",
        "Site.Updated",
        "Job.Created",
        "Job.Canceled",
        "Quota.Reserved",
        "ApiKey.Created",
        "ApiKey.Revoked",
        "AuthSession.Refreshed",
        "AuthSession.Revoked",
    ):
        assert expected in types, (expected, types)
    assert types.index("Site.Registered") < types.index("Job.Created") < types.index("Job.Canceled")
    reuse = next(e for e in entries if e["type"] == "AuthSession.Revoked")
    assert reuse["summary"]["because"] == "refresh_token_reused"
    assert reuse["aggregate_id"] == session_of(api, second)
    assert reuse["cause"]["name"] == "POST /api/v1/auth/refresh"
    for e in entries:
        assert set(e) == {
            "position",
            "type",
            "aggregate_id",
            "aggregate_version",
            "at",
            "cause",
            "summary",
        }
        assert e["at"].endswith("Z")

    # paged: the same entries in the same order, whatever the page size
    page = await pro.get(AUDIT, limit=3)
    assert len(page.body["data"]) == 3 and page.body["pagination"]["has_more"] is True
    assert await audit(pro, limit=3) == entries
    # filtered by type (several at once), and by time
    jobs_only = await audit(pro, type="Job.Created,Job.Canceled")
    assert [e["type"] for e in jobs_only] == ["Job.Created", "Job.Canceled"]
    middle = entries[len(entries) // 2]["at"]
    since = await audit(pro, **{"from": middle})
    until = await audit(pro, to=middle)
    assert all(e["at"] >= middle for e in since) and all(e["at"] <= middle for e in until)
    assert {e["position"] for e in since} | {e["position"] for e in until} == set(positions)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await audit(pro, **{"from": later}) == []
    assert await audit(pro, to="2000-01-01T00:00:00+02:00") == []


async def test_audit_as_csv_follows_the_export_rules(pro: Client, infra):
    # a request id is the caller's text: a formula in it must not run in a spreadsheet
    site = await pro.call(
        "POST",
        "/api/v1/sites",
        json={"url": "https://csv.example.org/", "name": "=HYPERLINK(1)"},
        headers={"X-Request-Id": "=cmd|' /C calc'!A0"},
    )
    assert site.status == 201, site.body
    await settled(infra)
    entries = await audit(pro)
    for answer in (
        await pro.call("GET", AUDIT, headers={"Accept": "text/csv"}),
        await pro.get(AUDIT, format="csv", limit=1),  # an export is whole
    ):
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert 'filename="audit.csv"' in answer.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(answer.body)))
        assert rows[0] == [
            "position",
            "type",
            "aggregate_id",
            "aggregate_version",
            "at",
            "cause_kind",
            "cause_name",
            "request_id",
            "account_id",
            "credential_type",
            "credential_id",
            "identified_by",
            "summary",
        ]
        assert [int(r[0]) for r in rows[1:]] == [e["position"] for e in entries]
        registered = next(r for r in rows[1:] if r[1] == "Site.Registered")
        assert registered[2] == site.body["id"]
        assert registered[7] == "'=cmd|' /C calc'!A0"
        assert registered[9] == "session"
        assert registered[11] == "access_token"
        assert msgspec.json.decode(registered[12])["name"] == "=HYPERLINK(1)"
    only = await pro.get(AUDIT, format="csv", type="Site.Registered")
    assert len(list(csv.reader(io.StringIO(only.body)))) == 2


async def test_another_accounts_events_never_show(api, pro: Client, infra):
    other = Client(api, await paid_account(api, infra, "pro"))
    theirs = await other.add_site()
    their_job = await other.job(theirs["id"], [1])
    mine = await pro.add_site()
    await settled(infra)
    seen = await audit(pro)
    assert seen and all(e["aggregate_id"] not in (theirs["id"], their_job["id"]) for e in seen)
    assert mine["id"] in {e["aggregate_id"] for e in seen}
    their_user = other.tokens["user"]["id"]
    assert their_user not in msgspec.json.encode(seen).decode()
    exported = await pro.get(AUDIT, format="csv")
    assert theirs["id"] not in exported.body and their_user not in exported.body
    assert {e["aggregate_id"] for e in await audit(other)} >= {theirs["id"], their_job["id"]}


async def test_audit_refuses_bad_parameters(api, pro: Client):
    cases = [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01T00:00:00Z"}, "to"),
        ({"from": "2026-11-01T00:00:00"}, "from"),  # no offset: which instant?
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "from"),
        ({"type": "Job.Exploded"}, "type"),
        ({"type": "Job.Created,nope"}, "type"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "not-ours"}, "cursor"),
    ]
    for params, field in cases:
        assert_error(await pro.get(AUDIT, **params), 422, "validation_failed", field)
    free = Client(api, await register(api))
    assert_error(await free.get(AUDIT), 403, "plan_required")
    async with api.http.get(AUDIT) as r:
        assert r.status == 401


def _old_event(aggregate_id: uuid.UUID, version: int, topic: str, state: dict) -> StoredEvent:
    """An event as the code before causes stored it: no `class_version`, no `cause`."""
    return StoredEvent(
        originator_id=aggregate_id,
        originator_version=version,
        topic=topic,
        state=msgspec.json.encode({"timestamp": "2026-11-20T10:00:00.123456Z", **state}),
    )


async def test_events_stored_before_causes_load_render_and_project(api, pro: Client, infra):
    site = await pro.add_site()
    account = ids.decode("usr", pro.tokens["user"]["id"])
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
            _old_event(
                job_id,
                1,
                "domain.job:Job.Created",
                {
                    "originator_topic": "domain.job:Job",
                    "account_id": account.hex,
                    "site_id": ids.decode("site", site["id"]).hex,
                    "period": "2026-11",
                    "tasks": [task, {**task, "directory_id": 2, "directory_name": "Dir 2"}],
                },
            ),
            _old_event(job_id, 2, "domain.job:Job.Started", {}),
        ]
    )
    # it loads into the aggregate, each event upcast to a null cause
    job = await infra.repository.get(job_id, Job)
    assert job.status == JobStatus.RUNNING and job.account_id == account
    stored = await infra.store.read(job_id)
    decoded = [infra.repository.mapper.to_domain_event(s) for s in stored]
    assert [e.cause for e in decoded] == [None, None]

    # it projects (the job's read model and the audit), and renders with a null cause
    await settled(infra)
    public = ids.encode("job", job_id)
    shown = await pro.get(f"/api/v1/jobs/{public}")
    assert shown.status == 200 and shown.body["status"] == "running", shown.body
    events = (await pro.get(f"/api/v1/jobs/{public}/events")).body["data"]
    assert [(e["type"], e["cause"]) for e in events] == [
        ("Job.Created", None),
        ("Job.Started", None),
    ]
    old = [e for e in await audit(pro) if e["aggregate_id"] == public]
    assert [(e["type"], e["cause"]) for e in old] == [("Job.Created", None), ("Job.Started", None)]
    assert old[0]["summary"]["site_id"] == site["id"]

    # new events follow the old ones in the same history, with their cause
    job.begin_submission(1)
    with caused_by(Cause(CauseKind.WORKER, name="submit_task")):
        await infra.repository.save(job)
    events = (await pro.get(f"/api/v1/jobs/{public}/events")).body["data"]
    assert [e["cause"] and e["cause"]["name"] for e in events] == [None, None, "submit_task"]
    new_state = msgspec.json.decode((await infra.store.read(job_id, gt=2))[0].state)
    assert new_state["class_version"] == 2 and new_state["cause"]["kind"] == "worker"
    assert (await infra.repository.get(job_id, Job)).task(1).status == "submitting"
