"""The arq queue in Redis: what the dispatcher and the workers enqueue.

Every job carries an arq `_job_id` derived from what caused it (`adapters.queue_ids`), so
enqueuing the same thing twice (a replayed event, a re-run fan-out) is a no-op while arq
remembers the id.
"""

from __future__ import annotations

from datetime import timedelta

from arq.connections import ArqRedis, RedisSettings, create_pool

from adapters.settings import Settings

#: how long arq remembers a finished job id (and so deduplicates a replayed enqueue)
KEEP_RESULT_SECONDS = 7 * 24 * 3600


class TaskQueue:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool: ArqRedis | None = None

    async def pool(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(
                RedisSettings.from_dsn(self.settings.redis_url),
                default_queue_name=self.settings.queue_name,
            )
        return self._pool

    async def enqueue(
        self, function: str, *args: object, job_id: str, defer_by: timedelta | float | None = None
    ) -> bool:
        """True if queued now, False if a job with this id is queued or remembered."""
        pool = await self.pool()
        job = await pool.enqueue_job(function, *args, _job_id=job_id, _defer_by=defer_by)
        return job is not None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
