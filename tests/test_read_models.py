"""Every real read model: the projector fills it, and a rebuild from position 0 gives the
same tables as the live run."""

from __future__ import annotations

import uuid

import asyncpg

from domain.services import jobs, sites
from projections.registry import all_projections
from projections.runner import ProjectorRunner, rebuild, wait_for
from tests.support import NOW, Limits, new_site


async def table_contents(conn: asyncpg.Connection, table: str) -> list[tuple]:
    return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]


async def test_rebuilding_each_read_model_equals_the_live_one(infra, settings, catalogue):
    projections = all_projections()
    runner = ProjectorRunner(settings.database_url, infra.store, projections, poll_interval=0.05)
    await runner.start()
    try:
        account = uuid.uuid4()
        site = await new_site(infra.repository, account)
        other = await new_site(infra.repository, account, "https://other.example.com")
        await sites.update_site(
            infra.repository,
            account_id=account,
            site_id=site.id,
            changes={"name": "Renamed", "keywords": ["a", "b"]},
        )
        await sites.archive_site(infra.repository, account_id=account, site_id=other.id)
        job, _ = await jobs.create_job(
            infra.repository,
            catalogue,
            account_id=account,
            plan=Limits(),
            site_id=site.id,
            directory_ids=[1, 2, 3],
            now=NOW,
        )
        await jobs.cancel_job(infra.repository, account_id=account, job_id=job.id)
        await jobs.create_job(
            infra.repository,
            catalogue,
            account_id=account,
            plan=Limits(),
            site_id=site.id,
            directory_ids=[1],
            now=NOW,
        )
        assert await wait_for(infra.pool, projections, await infra.store.max_notification_id())
    finally:
        await runner.stop()

    conn = await asyncpg.connect(settings.database_url)
    try:
        live = {t: await table_contents(conn, t) for p in projections for t in p.tables}
        assert live["sites"] and live["jobs"] and live["job_tasks"] and live["usage"]
        usage = live["usage"][0]
        assert (usage[3], usage[4]) == (0, 1)  # used, reserved after the cancel
        for projection in projections:
            await rebuild(conn, infra.store, projection)
        for table, rows in live.items():
            assert await table_contents(conn, table) == rows, table
    finally:
        await conn.close()
