"""arq `WorkerSettings` for `backlynk worker`, and `worker_options`: what arq is given
beside it from the settings the command loaded (nothing here reads the environment)."""

from __future__ import annotations

from typing import Any

from arq import cron, func
from arq.connections import RedisSettings

from adapters.queue import KEEP_RESULT_SECONDS
from adapters.settings import Settings
from workers import tasks


async def echo(ctx: dict[str, Any], payload: Any) -> Any:
    """Round trip through the queue: proves that a worker consumes this namespace's queue
    (used by the end-to-end tests and by operators as a smoke test)."""
    return payload


class WorkerSettings:
    functions = [
        echo,
        func(tasks.run_job, max_tries=10),
        # busy directory hosts re-queue a submission many times; each try is cheap
        func(tasks.submit_task, max_tries=1000),
        func(tasks.verify_listing, max_tries=10),
        func(tasks.recheck_backlink, max_tries=5),
    ]
    cron_jobs = [
        # webhook deliveries wait at most this long for their first try
        cron(tasks.send_webhooks, second=set(range(0, 60, 5)), run_at_startup=True),
        cron(tasks.recheck_backlinks, minute=set(range(0, 60, 10)), run_at_startup=False),
        cron(tasks.resume_stalled_jobs, minute=set(range(2, 60, 5)), run_at_startup=False),
        cron(tasks.expire_stale_reservations, minute={17}, run_at_startup=False),
    ]
    on_startup = tasks.startup
    on_shutdown = tasks.shutdown
    keep_result = KEEP_RESULT_SECONDS
    max_jobs = 20
    health_check_interval = 30


def worker_options(settings: Settings) -> dict[str, Any]:
    """This deployment's queue, and the settings every task reads (`ctx["settings"]`)."""
    return {
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.queue_name,
        # a killed worker's job is picked up again once its lease (timeout + 10 s) runs
        # out; a submission's own deadline is two thirds of it: recovery within a minute
        "job_timeout": settings.job_timeout,
        "ctx": {"settings": settings},
    }
