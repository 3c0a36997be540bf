"""Every real read model: the projector fills it, and a rebuild from position 0 gives the
same tables as the live run."""

from __future__ import annotations

import uuid

import asyncpg

from domain.backlink import Backlink
from domain.services import delivery, jobs, monitoring, sites, verification
from domain.services.delivery import Failed, RetryLater, Submitted
from domain.services.retry import change
from projections.registry import read_models
from projections.runner import ProjectorRunner, rebuild, wait_for
from tests.support import Limits, job_ports, new_site, site_ports
from tests.test_backlink_aggregate import GONE, LINKED, TIMEOUT


async def table_contents(conn: asyncpg.Connection, table: str) -> list[tuple]:
    return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]


async def exercise_every_event(repo, catalogue) -> uuid.UUID:
    """Sites, a canceled job and a job taken through every task transition."""
    account = uuid.uuid4()
    site = await new_site(repo, account)
    other = await new_site(repo, account, "https://other.example.com")
    changes = {"name": "Renamed", "keywords": ["a", "b"]}
    await sites.update_site(site_ports(repo), account_id=account, site_id=site.id, changes=changes)
    await sites.archive_site(site_ports(repo), account_id=account, site_id=other.id)

    async def job(ids):
        created, _ = await jobs.create_job(
            job_ports(repo, catalogue),
            account_id=account,
            plan=Limits(),
            site_id=site.id,
            directory_ids=ids,
        )
        return created

    canceled = await job([1, 2, 3])
    await jobs.cancel_job(job_ports(repo, catalogue), account_id=account, job_id=canceled.id)
    running = await job([1, 2, 4])
    await delivery.start_job(repo, running.id)
    for directory_id in (1, 2, 4):
        await delivery.begin_submission(repo, running.id, directory_id)
    await delivery.record_outcome(repo, running.id, 1, Submitted("https://d/1"))
    await delivery.record_outcome(repo, running.id, 2, RetryLater("timeout", "slow"))
    await delivery.begin_submission(repo, running.id, 2)
    await delivery.record_outcome(repo, running.id, 2, Failed("rejected", "no"))
    await delivery.record_outcome(repo, running.id, 4, Submitted(None))
    backlink = await verification.record_listing_found(repo, running.id, 1, LINKED)
    await verification.record_listing_not_found(repo, running.id, 4, "not after 14 days")
    for seen in (GONE, TIMEOUT, GONE, LINKED):  # unreachable, lost, recovered
        await monitoring.record_recheck(repo, backlink.id, seen)
    # a link added to monitoring: no job, no directory; a re-check asked for
    added = Backlink.add(account, site.id, "https://page.example/links")
    await repo.save(added)
    for seen in (TIMEOUT, LINKED):
        await monitoring.record_recheck(repo, added.id, seen)
    await change(repo, Backlink, added.id, lambda b: b.request_recheck(1))
    # canceled while a task was in flight, whose attempt then failed transiently
    in_flight = await job([2, 3])
    await delivery.begin_submission(repo, in_flight.id, 2)
    await jobs.cancel_job(job_ports(repo, catalogue), account_id=account, job_id=in_flight.id)
    await delivery.record_outcome(repo, in_flight.id, 2, RetryLater("timeout", "slow"))
    return running.id


async def test_rebuilding_each_read_model_equals_the_live_one(infra, settings, catalogue):
    projections = read_models()
    runner = ProjectorRunner(settings.database_url, infra.store, projections, poll_interval=0.05)
    await runner.start()
    try:
        running = await exercise_every_event(infra.repository, catalogue)
        latest = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, projections, latest, timeout=60)
    finally:
        await runner.stop()

    conn = await asyncpg.connect(settings.database_url)
    try:
        live = {t: await table_contents(conn, t) for p in projections for t in p.tables}
        usage = live["usage"][0]
        assert (usage[3], usage[4]) == (2, 0)  # used, reserved
        assert sorted(r[12] for r in live["backlinks"]) == ["live", "live"]
        events = sorted(r[4] for r in live["backlink_checks"])
        found = ["Discovered", "Checked", "BecameUnreachable", "Lost", "Recovered"]
        added = ["BecameUnreachable", "Checked"]
        assert events == sorted([*found, *added])
        tasks = {(r[2], r[4], r[5]) for r in live["job_tasks"] if r[0] == running}
        assert tasks == {(1, "verified", 1), (2, "failed", 2), (4, "failed", 1)}
        assert {r[0]: r[3] for r in live["jobs"]}[running] == "completed"
        assert sorted(r[3] for r in live["jobs"]) == ["canceled", "canceled", "completed"]
        assert sum(r[4] == "canceled" for r in live["job_tasks"]) == 3 + 2
        assert len(live["sites"]) == 2
        for projection in projections:
            await rebuild(conn, infra.store, projection)
        for table, rows in live.items():
            assert await table_contents(conn, table) == rows, table
    finally:
        await conn.close()
