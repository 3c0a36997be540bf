"""The dispatcher turns events into queued worker jobs, once, even when replayed."""

from __future__ import annotations

import uuid

import asyncpg

from adapters.queue import TaskQueue
from domain.services import submissions
from domain.services.submissions import RetryLater, Submitted
from projections.base import tracking_ddl
from projections.dispatcher import Dispatcher, retry_delay
from projections.runner import catch_up, rebuild
from tests.support import new_job, new_site


async def queued_ids(queue: TaskQueue) -> list[str]:
    pool = await queue.pool()
    raw = await pool.zrange(queue.settings.queue_name, 0, -1)
    return sorted(r.decode() for r in raw)


async def test_events_become_queued_jobs_exactly_once(infra, settings, catalogue):
    queue = TaskQueue(settings)
    dispatcher = Dispatcher(queue)
    conn = await asyncpg.connect(settings.database_url)
    try:
        for statement in tracking_ddl(dispatcher):
            await conn.execute(statement)
        pool = await queue.pool()
        await pool.delete(settings.queue_name)
        account = uuid.uuid4()
        site = await new_site(infra.repository, account)
        job, _ = await new_job(infra.repository, catalogue, account, site.id, [1, 2])
        repo = infra.repository
        await submissions.begin_submission(repo, job.id, 1)
        await submissions.record_outcome(repo, job.id, 1, Submitted("https://d/1"))
        await submissions.begin_submission(repo, job.id, 2)
        await submissions.record_outcome(repo, job.id, 2, RetryLater("timeout", "slow"))
        await catch_up(conn, infra.store, dispatcher)
        h = job.id.hex
        expected = sorted([f"run_job:{h}", f"verify:{h}:1:0", f"submit:{h}:2:5"])
        assert await queued_ids(queue) == expected
        # a replay (rebuild, or a batch repeated after a crash) enqueues nothing new
        await rebuild(conn, infra.store, dispatcher)
        assert await queued_ids(queue) == expected
        # the retry is deferred by the back-off
        score = await pool.zscore(settings.queue_name, f"submit:{h}:2:5")
        run_score = await pool.zscore(settings.queue_name, f"run_job:{h}")
        assert score - run_score >= retry_delay(1) * 1000 - 200
    finally:
        await conn.close()
        await queue.close()


def test_retry_back_off_doubles():
    assert [retry_delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
