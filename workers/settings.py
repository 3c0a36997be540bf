"""arq `WorkerSettings` for `backlynk worker`."""

from __future__ import annotations

from typing import Any

from arq import cron, func
from arq.connections import RedisSettings

from adapters.queue import KEEP_RESULT_SECONDS
from adapters.settings import load
from workers import tasks

_settings = load()


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
        cron(tasks.recheck_backlinks, minute=set(range(0, 60, 10)), run_at_startup=False),
        cron(tasks.resume_stalled_jobs, minute=set(range(2, 60, 5)), run_at_startup=False),
        cron(tasks.expire_stale_reservations, minute={17}, run_at_startup=False),
    ]
    on_startup = tasks.startup
    on_shutdown = tasks.shutdown
    redis_settings = RedisSettings.from_dsn(_settings.redis_url)
    queue_name = _settings.queue_name
    # a killed worker's job is picked up again once its lease (timeout + 10 s) runs out;
    # a submission's own deadline is two thirds of it, so recovery takes under a minute
    job_timeout = _settings.job_timeout
    keep_result = KEEP_RESULT_SECONDS
    max_jobs = 20
    health_check_interval = 30
