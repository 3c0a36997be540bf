"""Causes on events without a database: the repository stamps the entry point's cause on
what it saves (the domain and the services never see it), it survives encoding, and
stored events of the versions before it are upcast to a null cause (eventsourcing's
`class_version` / `upcast_vX_vY`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
from eventsourcing.persistence import StoredEvent

from adapters.causes import caused_by, current, identify, task_cause
from adapters.memory_repository import InMemoryRepository
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from domain.api_key import ApiKey
from domain.auth_session import AuthSession
from domain.cause import Cause, CauseKind, Credential, Proof
from domain.site import Site
from projections.audit import EVENT_TYPES, summary

MAPPER = TypedMapper(MsgspecTranscoder())
BY_KEY = Cause(
    CauseKind.REQUEST,
    name="POST /api/v1/api-keys",
    request_id="req_1",
    account_id=uuid.uuid4(),
    credential=Credential.API_KEY,
    credential_id=uuid.uuid4(),
)


async def test_a_save_records_the_cause_of_the_block_it_runs_in():
    repo = InMemoryRepository()
    key = ApiKey(account_id=uuid.uuid4(), name="ci", prefix="bk_live_ab", key_hash="h")
    with caused_by(BY_KEY):
        await repo.save(key)
    key.revoke(at=datetime.now(UTC))
    await repo.save(key)  # outside any entry point: no cause
    assert current.get() is None
    created, revoked = [MAPPER.to_domain_event(s) for s in repo.log]
    assert created.cause == BY_KEY and revoked.cause is None
    state = msgspec.json.decode(repo.log[0].state)
    assert state["class_version"] == 2
    assert state["cause"]["credential"] == "api_key" and "key" not in state["cause"]
    # the aggregate loads as before: the cause is not part of its state
    loaded = await repo.get(key.id, ApiKey)
    assert loaded.revoked_at is not None and not hasattr(loaded, "cause")


async def test_a_task_decorated_as_a_worker_task_is_the_cause_of_its_saves():
    repo = InMemoryRepository()

    @task_cause(CauseKind.CRON)
    async def expire(ctx: dict, account_id: uuid.UUID) -> uuid.UUID:
        key = ApiKey(account_id=account_id, name="x", prefix="p", key_hash="h")
        await repo.save(key)
        return key.id

    assert expire.__name__ == "expire"  # arq names a task by its function
    with caused_by(BY_KEY):  # the task's own cause wins over the caller's
        key_id = await expire({}, uuid.uuid4())
    [stored] = repo.log
    assert MAPPER.to_domain_event(stored).cause == Cause(CauseKind.CRON, name="expire")
    assert stored.originator_id == key_id
    # concurrent tasks keep their own causes
    await asyncio.gather(*(expire({}, uuid.uuid4()) for _ in range(3)))
    assert all(MAPPER.to_domain_event(s).cause.name == "expire" for s in repo.log)


def test_version_one_events_upcast_to_a_null_cause():
    stored = StoredEvent(
        originator_id=uuid.uuid4(),
        originator_version=2,
        topic="domain.api_key:ApiKey.Revoked",
        state=b'{"timestamp":"2026-11-20T10:00:00Z","at":"2026-11-20T10:00:00Z"}',
    )
    event = MAPPER.to_domain_event(stored)
    assert event.cause is None and event.at == datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_session_starts_of_versions_one_and_two_upcast_to_version_three():
    end = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    account = uuid.uuid4()
    base = {
        "timestamp": "2026-11-20T10:00:00Z",
        "originator_topic": "domain.auth_session:AuthSession",
        "account_id": account.hex,
        "expires_at": end,
    }
    for state in ({**base, "token_hash": "h0"}, {**base, "class_version": 2}):
        stored = StoredEvent(
            uuid.uuid4(), 1, "domain.auth_session:AuthSession.Started", msgspec.json.encode(state)
        )
        event = MAPPER.to_domain_event(stored)
        assert event.cause is None and not hasattr(event, "token_hash")
        session = event.mutate(None)
        assert isinstance(session, AuthSession) and session.account_id == account
    assert AuthSession.Started.class_version == 3


def test_the_audit_types_name_every_event_an_account_causes():
    assert "Job.Created" in EVENT_TYPES and "Account.PlanChanged" in EVENT_TYPES
    assert "AuthSession.Revoked" in EVENT_TYPES and "ApiKey.Revoked" in EVENT_TYPES
    # base classes are no events of their own; bookkeeping aggregates are left out
    assert not {t for t in EVENT_TYPES if t.endswith((".Event",))}
    assert "Account.Created" not in EVENT_TYPES
    assert not any(t.startswith(("UniqueKey.", "SiteRegistry.")) for t in EVENT_TYPES)


def test_an_audit_summary_holds_what_jsonb_can_store():
    site = Site(
        account_id=uuid.uuid4(),
        url="https://example.com/",
        domain="example.com",
        name="a\x00b",
        description=None,
        category=None,
        keywords=["x\x00"],
        contact_email=None,
    )
    [registered] = site.collect_events()
    shown = summary(registered)
    assert shown["name"] == "ab" and shown["keywords"] == ["x"]
    assert "\\u0000" not in msgspec.json.encode(shown).decode()


def test_identify_names_a_requests_caller_and_nothing_else():
    account, session = uuid.uuid4(), uuid.uuid4()
    request = Cause(CauseKind.REQUEST, name="POST /api/v1/auth/login", request_id="r1")
    with caused_by(request):
        identify(account, Credential.SESSION, session, Proof.PASSWORD)
        assert current.get() == Cause(
            CauseKind.REQUEST,
            name="POST /api/v1/auth/login",
            request_id="r1",
            account_id=account,
            credential=Credential.SESSION,
            credential_id=session,
            identified_by=Proof.PASSWORD,
        )
        # the same credential shown again another way keeps how it was first shown
        identify(account, Credential.SESSION, session, Proof.REFRESH_TOKEN)
        assert current.get().identified_by == Proof.PASSWORD
        # and identified again as it already is (an API key: by its check, then by the
        # route), the request's cause stays as it is
        identified = current.get()
        identify(account, Credential.SESSION, session, Proof.PASSWORD)
        assert current.get() is identified
        # another credential is named with its own proof
        key = uuid.uuid4()
        identify(account, Credential.API_KEY, key, Proof.API_KEY)
        assert (current.get().credential_id, current.get().identified_by) == (key, Proof.API_KEY)
    assert current.get() is None
    # a worker, a cron job or a CLI command stays its own cause; outside any, nothing
    for own in (Cause(CauseKind.WORKER, name="run_job"), Cause(CauseKind.CLI, name="x")):
        with caused_by(own):
            identify(account, Credential.SESSION, session, Proof.PASSWORD)
            assert current.get() == own
    identify(account, Credential.SESSION, session, Proof.PASSWORD)
    assert current.get() is None


def test_a_cause_stored_before_identified_by_decodes_with_it_null():
    old = {"kind": "request", "request_id": "r", "credential": "api_key"}
    cause = msgspec.json.decode(msgspec.json.encode(old), type=Cause)
    assert cause.identified_by is None and cause.credential == Credential.API_KEY
    # a cause without it is stored without it: the stored shape only grows
    assert "identified_by" not in msgspec.json.decode(msgspec.json.encode(cause))
