"""The workers' cron jobs, called with a worker context against the real stores."""

from __future__ import annotations

import uuid

import msgspec

from adapters.queue import TaskQueue
from domain.job import Job
from domain.quota import Quota
from tests.support import new_job, new_site
from workers import tasks


async def test_stale_reservations_are_released_and_their_tasks_fail(infra, settings, catalogue):
    from projections.registry import read_models
    from projections.runner import ProjectorRunner, wait_for

    runner = ProjectorRunner(settings.database_url, infra.store, read_models(), poll_interval=0.05)
    await runner.start()
    account = uuid.uuid4()
    site = await new_site(infra.repository, account)
    job, _ = await new_job(infra.repository, catalogue, account, site.id, [1, 2])
    try:
        latest = await infra.store.max_notification_id()
        assert await wait_for(infra.pool, read_models(), latest, timeout=60)
        queue = TaskQueue(settings)
        fresh = {"settings": settings, "infra": infra, "queue": queue}
        assert await tasks.expire_stale_reservations(fresh) == 0  # a week has not passed
        stale = dict(fresh, settings=msgspec.structs.replace(settings, reservation_days=0))
        assert await tasks.expire_stale_reservations(stale) == 2
        await queue.close()
    finally:
        await runner.stop()
    loaded = await infra.repository.get(job.id, Job)
    assert loaded.status == "failed"
    assert {(t.status, t.error.code) for t in loaded.tasks} == {("failed", "timeout")}
    quota = await infra.repository.get(Quota.create_id(account, "2026-11"), Quota)
    assert quota.reserved == {} and quota.used == 0
