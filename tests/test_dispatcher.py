"""The dispatcher turns events into queued worker jobs, once, even when replayed."""

from __future__ import annotations

import uuid

import asyncpg

from adapters.queue import TaskQueue
from domain.services import delivery
from domain.services.delivery import RetryLater, Submitted
from domain.task_schedule import retry_delay
from projections.base import tracking_ddl
from projections.dispatcher import Dispatcher
from projections.runner import catch_up, rebuild
from tests.flows.support import delivery as wired_delivery
from tests.support import new_job, new_site
from workers import tasks


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
        await delivery.begin_submission(repo, job.id, 1)
        await delivery.record_outcome(repo, job.id, 1, Submitted("https://d/1"))
        await delivery.begin_submission(repo, job.id, 2)
        await delivery.record_outcome(repo, job.id, 2, RetryLater("timeout", "slow"))
        await catch_up(conn, infra.store, dispatcher)
        h = job.id.hex
        # the retry's id names the attempt count, as the fan-out's does (`adapters.queue_ids`)
        expected = sorted([f"run_job:{h}", f"verify:{h}:1:0", f"submit:{h}:2:a1"])
        assert await queued_ids(queue) == expected
        # a replay (rebuild, or a batch repeated after a crash) enqueues nothing new
        await rebuild(conn, infra.store, dispatcher)
        assert await queued_ids(queue) == expected
        # the retry is deferred by the back-off
        score = await pool.zscore(settings.queue_name, f"submit:{h}:2:a1")
        run_score = await pool.zscore(settings.queue_name, f"run_job:{h}")
        assert score - run_score >= retry_delay(1).total_seconds() * 1000 - 200
        # the job fanned out again (a resumed job) while the retry waits: the same attempt,
        # the same id, so the task is not submitted twice
        ctx = {"queue": queue, "delivery": wired_delivery(infra, settings)}
        assert await tasks.run_job(ctx, h) == 1
        assert await queued_ids(queue) == expected
    finally:
        await conn.close()
        await queue.close()


def test_retry_back_off_doubles():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
