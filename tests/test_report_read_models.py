"""The `reports` projection tolerates what backlink monitoring may bring: a backlink added
by hand (no directory, no job) counts in the backlinks-over-time report and in no
directory's figures, and an event type it does not read changes nothing — whether the
events are applied one by one or in a batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.utils import get_topic

from domain.backlink import Backlink, Evidence
from domain.job import Job, Task, TaskStatus
from projections.report_backlinks import backlinks_over_time
from projections.report_directories import directory_stats
from projections.reports import ReportsProjection
from tests.test_batch_apply import make

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
ACCOUNT, SITE = uuid.uuid4(), uuid.uuid4()


def evidence(link_type: str | None = "dofollow", has_link: bool = True) -> Evidence:
    return Evidence(source_url="https://page.example/", has_link=has_link, link_type=link_type)


def history() -> list:
    job, by_hand, listed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    tasks = [Task(4, "Dir 4", TaskStatus.PENDING)]
    common = {"account_id": ACCOUNT, "site_id": SITE}
    return [
        make(Job.Created, job, 1, T0, **common, period="2026-03", tasks=tasks),
        make(Job.TaskSubmitted, job, 2, T0, directory_id=4, listing_url=None),
        make(Job.TaskVerified, job, 3, T0 + timedelta(hours=2), directory_id=4, backlink_id=listed),
        make(
            Backlink.Discovered,
            listed,
            1,
            T0 + timedelta(hours=2),
            **common,
            directory_id=4,
            job_id=job,
            evidence=evidence(),
        ),
        # added by hand: no directory, no job
        make(
            Backlink.Discovered,
            by_hand,
            1,
            T0 + timedelta(days=1),
            **common,
            directory_id=None,
            job_id=None,
            evidence=evidence("nofollow"),
        ),
        make(Backlink.Lost, by_hand, 2, T0 + timedelta(days=2), evidence=evidence(None, False)),
    ]


class Unreachable:
    """A Backlink event type this projection does not know (monitoring may add some)."""

    def __init__(self, originator_id: uuid.UUID):
        self.originator_id = originator_id
        self.timestamp = T0


@pytest.mark.parametrize("batched", [False, True])
async def test_a_link_without_directory_and_an_unknown_event(infra, batched):
    projection = ReportsProjection()
    events = history()
    events.insert(4, Unreachable(events[3].originator_id))
    async with infra.pool.acquire() as conn, conn.transaction():
        numbered = [(e, n) for n, e in enumerate(events, start=1)]
        if batched:
            await projection.apply_batch(conn, numbered)
        else:
            for event, n in numbered:
                await projection.apply(conn, event, n)
        stats = await directory_stats(conn, account_id=ACCOUNT)
        days = await backlinks_over_time(conn, ACCOUNT, SITE, "day", T0, T0 + timedelta(days=2))
    assert [(s.directory_id, s.backlinks, s.dofollow_share, s.lost_rate) for s in stats] == [
        (4, 1, 1.0, 0.0)
    ]
    assert stats[0].median_seconds_to_verified == 7200.0
    assert [(d.live, d.discovered, d.lost) for d in days] == [(1, 1, 0), (2, 1, 0), (1, 0, 1)]
    assert get_topic(Backlink.Discovered) in projection.topics
    assert all("Unreachable" not in t for t in projection.topics)
