"""The dispatcher: a projection whose effect is enqueuing worker jobs.

* `Job.Created` → `run_job`;
* `Job.TaskRetryScheduled` → `submit_task` again, after the retry back-off;
* `Job.TaskSubmitted` → `verify_listing`, deferred until the first look;
* `Backlink.Added` → `recheck_backlink` at once (its first check; the re-check cron takes
  it from there), and `Backlink.RecheckRequested` → `recheck_backlink` at once.

When is the domain's (`domain.task_schedule`). arq job ids are derived from the event
(`adapters.queue_ids`), so a batch replayed after a crash enqueues nothing twice. Workers
never trust the queue for state: they load the job and do only what is still pending, so
an extra or stale message is harmless.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

from adapters import queue_ids
from adapters.queue import TaskQueue
from domain.backlink import Backlink
from domain.job import Job
from domain.task_schedule import first_look, retry_delay


class Dispatcher:
    name = "dispatcher"
    tables: tuple[str, ...] = ()
    ddl: tuple[str, ...] = ()
    topics = tuple(
        get_topic(c)
        for c in (
            Job.Created,
            Job.TaskRetryScheduled,
            Job.TaskSubmitted,
            Backlink.Added,
            Backlink.RecheckRequested,
        )
    )

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
        if isinstance(event, Backlink.Added | Backlink.RecheckRequested):
            backlink_id = event.originator_id
            arq_id = (
                queue_ids.first_check(backlink_id)
                if isinstance(event, Backlink.Added)
                else queue_ids.recheck_now(backlink_id, event.window)
            )
            await self.queue.enqueue("recheck_backlink", backlink_id.hex, job_id=arq_id)
            return
        job_id = event.originator_id
        job = job_id.hex
        if isinstance(event, Job.Created):
            await self.queue.enqueue("run_job", job, job_id=queue_ids.run_job(job_id))
        elif isinstance(event, Job.TaskRetryScheduled):
            await self.queue.enqueue(
                "submit_task",
                job,
                event.directory_id,
                job_id=queue_ids.submit_task(job_id, event.directory_id, event.attempts),
                defer_by=retry_delay(event.attempts),
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
                job_id=queue_ids.verify_listing(job_id, event.directory_id, 0),
                defer_by=first_look(days or 0) or None,
            )
