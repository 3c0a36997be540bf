"""A backlink's life: discovered live, lost when the link goes, live again when it
returns; typed evidence survives the event store."""

from __future__ import annotations

import uuid

from domain.backlink import LIVE, LOST, Backlink, Evidence

LINKED = Evidence(
    "https://dir.example/site/example.com",
    True,
    "https://example.com/",
    "Example",
    "dofollow",
    [],
    200,
    True,
)
GONE = Evidence("https://dir.example/site/example.com", False, http_status=200, indexable=True)


def new_backlink() -> Backlink:
    return Backlink(
        account_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        directory_id=3,
        job_id=uuid.uuid4(),
        evidence=LINKED,
    )


def test_lost_then_recovered():
    b = new_backlink()
    assert b.status == LIVE
    b.record_check(LINKED)
    b.record_check(GONE)
    assert b.status == LOST
    b.record_check(GONE)
    assert b.status == LOST
    b.record_check(LINKED)
    assert b.status == LIVE
    names = [type(e).__name__ for e in b.collect_events()]
    assert names == ["Discovered", "Checked", "Lost", "Checked", "Recovered"]


def test_one_backlink_per_job_and_directory():
    job, site, account = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a = Backlink(account_id=account, site_id=site, directory_id=1, job_id=job, evidence=LINKED)
    b = Backlink(account_id=account, site_id=site, directory_id=1, job_id=job, evidence=GONE)
    assert a.id == b.id


async def test_evidence_round_trips_through_the_store(infra):
    b = new_backlink()
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
