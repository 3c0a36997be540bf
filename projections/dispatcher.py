"""The dispatcher: a projection whose effect is enqueuing worker jobs.

* `Job.Created` → `run_job`;
* `Job.TaskRetryScheduled` → `submit_task` again, after an exponential back-off;
* `Job.TaskSubmitted` → `verify_listing`, deferred by the directory's turnaround.

arq job ids are derived from the event, so a batch replayed after a crash enqueues
nothing twice. Workers never trust the queue for state: they load the job and do only
what is still pending, so an extra or stale message is harmless.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

from adapters.queue import TaskQueue
from domain.job import Job

RETRY_BASE_SECONDS = 2.0


def retry_delay(attempts: int) -> float:
    """2 s, 4 s, 8 s … after the 1st, 2nd, 3rd failed attempt."""
    return RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)


class Dispatcher:
    name = "dispatcher"
    tables: tuple[str, ...] = ()
    ddl: tuple[str, ...] = ()
    topics = tuple(get_topic(c) for c in (Job.Created, Job.TaskRetryScheduled, Job.TaskSubmitted))

    def __init__(self, queue: TaskQueue | None):
        """`queue`: None for a dispatcher that is only listed (its name and tracking
        table, for status and migrations), so that listing makes no Redis client."""
        self._queue = queue

    @property
    def queue(self) -> TaskQueue:
        if self._queue is None:
            raise RuntimeError("this dispatcher was listed, not wired to a queue")
        return self._queue

    async def close(self) -> None:
        if self._queue is not None:
            await self._queue.close()

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        job = event.originator_id.hex
        if isinstance(event, Job.Created):
            await self.queue.enqueue("run_job", job, job_id=f"run_job:{job}")
        elif isinstance(event, Job.TaskRetryScheduled):
            await self.queue.enqueue(
                "submit_task",
                job,
                event.directory_id,
                job_id=f"submit:{job}:{event.directory_id}:{event.originator_version}",
                defer_by=timedelta(seconds=retry_delay(event.attempts)),
            )
        elif isinstance(event, Job.TaskSubmitted):
            days = await conn.fetchval(
                "SELECT (spec->>'turnaround_days')::int FROM directories WHERE id = $1",
                event.directory_id,
            )
            await self.queue.enqueue(
                "verify_listing",
                job,
                event.directory_id,
                0,
                job_id=f"verify:{job}:{event.directory_id}:0",
                defer_by=timedelta(days=days or 0) or None,
            )
