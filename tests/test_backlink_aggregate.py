"""A backlink's life (domain/backlink.py): each check's outcome (found, missing,
unreachable), every status transition (a link is lost only after two failed checks in a
row; an unreachable page never loses it), what each check records (its status, failures
and what changed), added backlinks, and events stored before these rules still loading."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.transcoder import MsgspecTranscoder, TypedMapper
from domain.backlink import (
    FOUND,
    LIVE,
    LOST,
    MISSING,
    PENDING,
    UNREACHABLE,
    Backlink,
    Change,
    Evidence,
    added_id,
    next_status,
    outcome_of,
)
from projections.registry import read_models
from projections.runner import ProjectorRunner, wait_for

PAGE = "https://dir.example/site/example.com"
LINKED = Evidence(PAGE, True, "https://example.com/", "Example", "dofollow", [], 200, True)
GONE = Evidence(PAGE, False, http_status=200, indexable=True)
NOT_FOUND = Evidence(PAGE, False, http_status=404)
TIMEOUT = Evidence(PAGE, False, error="timeout")
DOWN = Evidence(PAGE, False, http_status=503)
MAPPER = TypedMapper(MsgspecTranscoder())


def new_backlink() -> Backlink:
    return Backlink(
        account_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        directory_id=3,
        job_id=uuid.uuid4(),
        evidence=LINKED,
    )


def names(b: Backlink) -> list[str]:
    return [type(e).__name__ for e in b.collect_events()]


@pytest.mark.parametrize(
    ("evidence", "outcome"),
    [
        (LINKED, FOUND),
        (GONE, MISSING),  # the page answered without the link
        (Evidence(PAGE, False, http_status=200), MISSING),  # not HTML: no link either
        (NOT_FOUND, MISSING),
        (Evidence(PAGE, False, http_status=410), MISSING),
        (TIMEOUT, UNREACHABLE),
        (Evidence(PAGE, False, error="dns_error"), UNREACHABLE),
        (Evidence(PAGE, False, error="connection_error"), UNREACHABLE),
        (Evidence(PAGE, False, http_status=200, error="too_large"), UNREACHABLE),
        (DOWN, UNREACHABLE),
        (Evidence(PAGE, False, http_status=500), UNREACHABLE),
        (Evidence(PAGE, False, http_status=429), UNREACHABLE),
        (Evidence(PAGE, False, http_status=403), UNREACHABLE),
        (Evidence(PAGE, False, http_status=301, error="too_many_redirects"), UNREACHABLE),
    ],
)
def test_the_outcome_of_a_check(evidence: Evidence, outcome: str):
    assert outcome_of(evidence) == outcome


@pytest.mark.parametrize(
    ("status", "failures", "outcome", "after"),
    [
        (LIVE, 0, FOUND, (LIVE, 0)),
        (LIVE, 0, MISSING, (LIVE, 1)),  # the first miss is recorded, the link stays live
        (LIVE, 1, MISSING, (LOST, 2)),  # the second miss in a row loses it
        (LIVE, 1, FOUND, (LIVE, 0)),
        (LIVE, 0, UNREACHABLE, (UNREACHABLE, 1)),
        (LIVE, 1, UNREACHABLE, (UNREACHABLE, 2)),  # never lost without seeing the page
        (UNREACHABLE, 1, UNREACHABLE, (UNREACHABLE, 2)),
        (UNREACHABLE, 1, MISSING, (LOST, 2)),  # a miss after a failure: two in a row
        (UNREACHABLE, 3, FOUND, (LIVE, 0)),
        (LOST, 2, MISSING, (LOST, 3)),
        (LOST, 2, UNREACHABLE, (LOST, 3)),  # a lost link stays lost until it is seen
        (LOST, 3, FOUND, (LIVE, 0)),
        (PENDING, 0, FOUND, (LIVE, 0)),
        (PENDING, 0, MISSING, (PENDING, 1)),
        (PENDING, 1, MISSING, (LOST, 2)),
        (PENDING, 0, UNREACHABLE, (UNREACHABLE, 1)),
    ],
)
def test_every_transition(status: str, failures: int, outcome: str, after: tuple[str, int]):
    assert next_status(status, failures, outcome) == after


def test_lost_after_two_misses_then_recovered():
    b = new_backlink()
    assert b.status == LIVE and b.page_url == PAGE
    b.record_check(LINKED)
    assert b.record_check(GONE) == MISSING
    assert (b.status, b.failures) == (LIVE, 1)
    b.record_check(GONE)
    assert (b.status, b.failures) == (LOST, 2)
    b.record_check(GONE)
    assert b.status == LOST
    assert b.record_check(LINKED) == FOUND
    assert (b.status, b.failures) == (LIVE, 0)
    assert names(b) == ["Discovered", "Checked", "Checked", "Lost", "Checked", "Recovered"]


def test_one_timeout_makes_it_unreachable_and_the_next_good_check_live():
    b = new_backlink()
    assert b.record_check(TIMEOUT) == UNREACHABLE
    assert b.status == UNREACHABLE
    b.record_check(DOWN)
    assert (b.status, b.failures) == (UNREACHABLE, 2)
    b.record_check(LINKED)
    assert (b.status, b.failures) == (LIVE, 0)
    # live again without having been lost: no `Recovered`, so no backlink.recovered
    assert names(b) == ["Discovered", "BecameUnreachable", "Checked", "Checked"]


def test_a_miss_after_an_unreachable_check_loses_the_link():
    b = new_backlink()
    b.record_check(TIMEOUT)
    b.record_check(NOT_FOUND)
    assert b.status == LOST
    assert names(b)[-1] == "Lost"


def test_each_check_records_what_changed():
    b = new_backlink()
    b.collect_events()
    moved = Evidence(PAGE, True, "https://example.com/new", "New", "nofollow", ["nofollow"], 200)
    b.record_check(moved)
    b.record_check(NOT_FOUND)
    b.record_check(TIMEOUT)
    changed, gone, timed_out = b.collect_events()
    assert changed.outcome == FOUND and changed.status == LIVE
    assert changed.changes == [
        Change("target_url", "https://example.com/", "https://example.com/new"),
        Change("anchor_text", "Example", "New"),
        Change("link_type", "dofollow", "nofollow"),
        Change("rel_attributes", [], ["nofollow"]),
        Change("indexable", True, False),
    ]
    # the link gone and the page's answer; what the link was stays on record
    assert gone.changes == [Change("has_link", True, False), Change("http_status", 200, 404)]
    assert gone.evidence.target_url == "https://example.com/new"
    assert (gone.status, gone.failures) == (LIVE, 1)
    # an unreachable check updates only the answer: nothing was read of the link
    assert timed_out.changes == [Change("http_status", 404, None), Change("error", None, "timeout")]
    assert timed_out.evidence.has_link is False and timed_out.evidence.anchor_text == "New"
    assert (timed_out.status, timed_out.failures) == (UNREACHABLE, 2)


def test_an_added_backlink_is_pending_until_its_first_check():
    site = uuid.uuid4()
    b = Backlink.add(uuid.uuid4(), site, PAGE)
    assert (b.status, b.directory_id, b.job_id, b.page_url) == (PENDING, None, None, PAGE)
    assert b.id == added_id(site, PAGE) == Backlink.add(uuid.uuid4(), site, PAGE).id
    b.record_check(LINKED)
    assert b.status == LIVE
    assert names(b) == ["Added", "Checked"]


def test_a_recheck_is_asked_for_once_per_window():
    b = new_backlink()
    b.collect_events()
    assert b.request_recheck(7) is True
    assert b.request_recheck(7) is False
    assert b.request_recheck(8) is True
    assert [e.window for e in b.collect_events()] == [7, 8]


def test_one_backlink_per_job_and_directory():
    job, site, account = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a = Backlink(account_id=account, site_id=site, directory_id=1, job_id=job, evidence=LINKED)
    b = Backlink(account_id=account, site_id=site, directory_id=1, job_id=job, evidence=GONE)
    assert a.id == b.id


def stored(oid: uuid.UUID, version: int, name: str, state: dict) -> StoredEvent:
    return StoredEvent(oid, version, f"domain.backlink:Backlink.{name}", msgspec.json.encode(state))


OLD_LINKED = {"source_url": PAGE, "has_link": True, "target_url": "https://example.com/",
              "anchor_text": "Example", "link_type": "dofollow", "rel_attributes": [],
              "http_status": 200, "indexable": True}  # fmt: skip
OLD_GONE = {"source_url": PAGE, "has_link": False, "http_status": 200, "indexable": True}


def old_history(oid: uuid.UUID) -> list[StoredEvent]:
    """A backlink's events as version 2 stored them: one miss lost the link."""
    at = {"timestamp": "2026-11-01T10:00:00Z"}
    return [
        stored(
            oid,
            1,
            "Discovered",
            {
                **at,
                "class_version": 2,
                "cause": None,
                "originator_topic": "domain.backlink:Backlink",
                "account_id": uuid.uuid4().hex,
                "site_id": uuid.uuid4().hex,
                "directory_id": 4,
                "job_id": uuid.uuid4().hex,
                "evidence": OLD_LINKED,
            },
        ),
        stored(oid, 2, "Checked", {**at, "class_version": 2, "evidence": OLD_LINKED}),
        stored(oid, 3, "Lost", {**at, "class_version": 2, "evidence": OLD_GONE}),
        stored(oid, 4, "Checked", {**at, "class_version": 2, "evidence": OLD_GONE}),
        stored(oid, 5, "Recovered", {**at, "evidence": OLD_LINKED}),  # version 1: no cause
    ]


def test_checks_stored_before_outcomes_upcast_and_load():
    oid = uuid.uuid4()
    events = [MAPPER.to_domain_event(s) for s in old_history(oid)]
    checked, lost, kept, recovered = events[1:]
    assert (checked.outcome, checked.status, checked.failures) == (FOUND, LIVE, 0)
    assert (lost.outcome, lost.status, lost.failures) == (MISSING, LOST, 1)
    assert (kept.status, recovered.status, recovered.cause) == (LOST, LIVE, None)
    assert all(e.changes == [] for e in events[1:])
    assert isinstance(lost.evidence, Evidence) and lost.evidence.error is None
    backlink = None
    for event in events:
        backlink = event.mutate(backlink)
    assert isinstance(backlink, Backlink)
    assert (backlink.status, backlink.page_url, backlink.failures) == (LIVE, PAGE, 0)
    # and the next check follows the new rules
    backlink.record_check(Evidence(PAGE, False, http_status=404))
    assert backlink.status == LIVE


async def test_evidence_round_trips_through_the_store(infra):
    b = new_backlink()
    b.record_check(GONE)
    b.record_check(GONE)
    await infra.repository.save(b)
    loaded = await infra.repository.get(b.id, Backlink)
    assert loaded.status == LOST and loaded.evidence.has_link is False
    # what was lost stays on record
    assert (loaded.evidence.target_url, loaded.evidence.link_type) == (
        LINKED.target_url,
        LINKED.link_type,
    )
    assert loaded.evidence == b.evidence
    assert isinstance(loaded.evidence, Evidence)


async def test_old_events_load_from_the_event_store(infra):
    oid = uuid.uuid4()
    await infra.store.append(old_history(oid))
    loaded = await infra.repository.get(oid, Backlink)
    assert loaded.status == LIVE and loaded.version == 5
    assert loaded.created_on == datetime(2026, 11, 1, 10, tzinfo=UTC)


async def test_old_events_project_into_the_read_models(infra, settings):
    oid = uuid.uuid4()
    await infra.store.append(old_history(oid))
    projections = [p for p in read_models() if p.name in ("backlinks", "backlink_checks")]
    runner = ProjectorRunner(settings.database_url, infra.store, projections, poll_interval=0.05)
    await runner.start()
    try:
        latest = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, projections, latest, timeout=60)
    finally:
        await runner.stop()
    row = await infra.pool.fetchrow("SELECT status, lost_at FROM backlinks WHERE id = $1", oid)
    assert (row["status"], row["lost_at"]) == (LIVE, None)
    checks = await infra.pool.fetch(
        "SELECT event, status, outcome, failures, changes::text AS changes FROM backlink_checks "
        "WHERE backlink_id = $1 ORDER BY version",
        oid,
    )
    assert [(c["event"], c["status"], c["outcome"], c["failures"]) for c in checks] == [
        ("Discovered", LIVE, FOUND, 0),
        ("Checked", LIVE, FOUND, 0),
        ("Lost", LOST, MISSING, 1),
        ("Checked", LOST, MISSING, 1),
        ("Recovered", LIVE, FOUND, 0),
    ]
    assert {c["changes"] for c in checks} == {"[]"}
