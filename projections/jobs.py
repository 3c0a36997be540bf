"""Read model: jobs and their tasks, as `GET /jobs` and `GET /jobs/{id}` show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from adapters.job_feed import CHANNEL as JOBS_CHANNEL
from domain.job import IN_FLIGHT, Job, JobStatus, Task, TaskStatus
from projections.base import Owners
from projections.batch import Rows, as_columns
from projections.views import by_name, columns, convert, insert

#: the statuses of tasks waiting for a worker, as SQL (an index predicate takes no parameter)
_WAITING = ", ".join(f"'{status}'" for status in IN_FLIGHT)


class JobsProjection:
    name = "jobs"
    owners = Owners("jobs", "id", "account_id")
    tables = ("jobs", "job_tasks")
    topics = tuple(
        get_topic(c)
        for c in (
            Job.Created,
            Job.Canceled,
            Job.CancelRequested,
            Job.Started,
            Job.Finished,
            Job.TaskSubmitting,
            Job.TaskSubmitted,
            Job.TaskRetryScheduled,
            Job.TaskFailed,
            Job.TaskVerified,
            Job.TaskCanceled,
        )
    )
    ddl = (
        """CREATE TABLE IF NOT EXISTS jobs (
            id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            site_id uuid NOT NULL,
            status text NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            started_at timestamptz,
            finished_at timestamptz,
            seq bigint NOT NULL,
            event_position bigint NOT NULL DEFAULT 0)""",
        # tables made before the job streams: their rows say 0 until the next change
        "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS event_position bigint NOT NULL DEFAULT 0",
        "CREATE INDEX IF NOT EXISTS jobs_account_seq ON jobs (account_id, seq DESC)",
        """CREATE TABLE IF NOT EXISTS job_tasks (
            job_id uuid NOT NULL,
            position integer NOT NULL,
            directory_id integer NOT NULL,
            directory_name text NOT NULL,
            status text NOT NULL,
            attempts integer NOT NULL,
            listing_url text,
            backlink_id uuid,
            error_code text,
            error_details text,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (job_id, directory_id))""",
        # the crons find tasks waiting for a worker (resume, expire reservations)
        "CREATE INDEX IF NOT EXISTS job_tasks_waiting ON job_tasks (updated_at) "
        f"WHERE status IN ({_WAITING})",
    )
    #: the job streams' feed (`adapters.job_feed`), delivered when the batch commits: on
    #: the live table only, never on a replay's copy (a replay would wake every stream)
    live_ddl = (
        f"""CREATE OR REPLACE FUNCTION public.backlynk_job_changed() RETURNS trigger
            LANGUAGE plpgsql AS $body$
            BEGIN
                PERFORM pg_notify('{JOBS_CHANNEL}', NEW.id::text || ' ' || NEW.event_position);
                RETURN NULL;
            END $body$""",
        """CREATE OR REPLACE TRIGGER backlynk_job_changed AFTER INSERT OR UPDATE ON jobs
            FOR EACH ROW EXECUTE FUNCTION public.backlynk_job_changed()""",
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, Job.Created):
            await conn.execute(
                "INSERT INTO jobs VALUES ($1, $2, $3, $6, $4, $4, NULL, NULL, $5, $5)",
                event.originator_id,
                event.account_id,
                event.site_id,
                event.timestamp,
                notification_id,
                JobStatus.QUEUED,
            )
            tasks = [task_row(t, i, event.timestamp) for i, t in enumerate(event.tasks)]
            await insert(conn, "job_tasks", tasks, job_id=event.originator_id)
        elif isinstance(event, Job.Started):
            await conn.execute(
                "UPDATE jobs SET status = $3, started_at = $2, updated_at = $2, "
                "event_position = $4 WHERE id = $1",
                event.originator_id,
                event.timestamp,
                JobStatus.RUNNING,
                notification_id,
            )
        elif isinstance(event, Job.Finished):
            await conn.execute(
                "UPDATE jobs SET status = $2, finished_at = $3, updated_at = $3, "
                "event_position = $4 WHERE id = $1",
                event.originator_id,
                event.status,
                event.timestamp,
                notification_id,
            )
        elif type(event) in TASK_CHANGES:
            await self._task(conn, event, TASK_CHANGES[type(event)], notification_id)
        elif isinstance(event, Job.Canceled | Job.CancelRequested):
            await conn.execute(
                "UPDATE job_tasks SET status = $3, updated_at = $4 "
                "WHERE job_id = $1 AND directory_id = ANY($2::int[])",
                event.originator_id,
                event.directory_ids,
                TaskStatus.CANCELED,
                event.timestamp,
            )
            if isinstance(event, Job.Canceled):  # nothing was in flight: finished at once
                await conn.execute(
                    "UPDATE jobs SET status = $3, updated_at = $2, event_position = $4, "
                    "finished_at = coalesce(finished_at, $2) WHERE id = $1",
                    event.originator_id,
                    event.timestamp,
                    JobStatus.CANCELED,
                    notification_id,
                )
            else:  # the job finishes when the attempts in flight end (Job.Finished)
                await conn.execute(
                    "UPDATE jobs SET updated_at = $2, event_position = $3 WHERE id = $1",
                    event.originator_id,
                    event.timestamp,
                    notification_id,
                )

    async def _task(
        self, conn: asyncpg.Connection, event: Any, status: TaskStatus, notification_id: int
    ) -> None:
        """Every task event sets the task's status; some also carry a listing URL, a
        backlink id or an error (None clears it, as in the aggregate)."""
        error = (getattr(event, "code", None), getattr(event, "details", None))
        await conn.execute(
            """UPDATE job_tasks SET status = $3, updated_at = $4,
                   attempts = attempts + $5,
                   listing_url = CASE WHEN $6 THEN $7 ELSE listing_url END,
                   backlink_id = CASE WHEN $8 THEN $9 ELSE backlink_id END,
                   error_code = $10, error_details = $11
               WHERE job_id = $1 AND directory_id = $2""",
            event.originator_id,
            event.directory_id,
            status,
            event.timestamp,
            1 if isinstance(event, Job.TaskSubmitting) else 0,
            isinstance(event, Job.TaskSubmitted),
            getattr(event, "listing_url", None),
            isinstance(event, Job.TaskVerified),
            getattr(event, "backlink_id", None),
            *error,
        )
        await conn.execute(
            "UPDATE jobs SET updated_at = $2, event_position = $3 WHERE id = $1",
            event.originator_id,
            event.timestamp,
            notification_id,
        )

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write per table
        (`projections.batch`)."""
        jobs, tasks = Rows("jobs", ("id",)), Rows("job_tasks", ("job_id", "directory_id"))
        await jobs.load(conn, {(e.originator_id,) for e, _ in events})
        await tasks.load(conn, {key for e, _ in events for key in _task_keys(e)})
        for event, notification_id in events:
            job = (event.originator_id,)
            at = event.timestamp
            if isinstance(event, Job.Created):
                jobs.insert(
                    {
                        "id": event.originator_id,
                        "account_id": event.account_id,
                        "site_id": event.site_id,
                        "status": JobStatus.QUEUED,
                        "created_at": at,
                        "updated_at": at,
                        "seq": notification_id,
                        "event_position": notification_id,
                    }
                )
                for i, t in enumerate(event.tasks):
                    tasks.insert(as_columns(task_row(t, i, at), job_id=event.originator_id))
            elif isinstance(event, Job.Started):
                jobs.update(
                    job,
                    status=JobStatus.RUNNING,
                    started_at=at,
                    updated_at=at,
                    event_position=notification_id,
                )
            elif isinstance(event, Job.Finished):
                jobs.update(
                    job,
                    status=event.status,
                    finished_at=at,
                    updated_at=at,
                    event_position=notification_id,
                )
            elif type(event) in TASK_CHANGES:
                key = (event.originator_id, event.directory_id)
                task = tasks.get(key)
                changes: dict[str, Any] = {
                    "status": TASK_CHANGES[type(event)],
                    "updated_at": at,
                    "error_code": getattr(event, "code", None),
                    "error_details": getattr(event, "details", None),
                }
                if isinstance(event, Job.TaskSubmitting) and task is not None:
                    changes["attempts"] = task["attempts"] + 1
                if isinstance(event, Job.TaskSubmitted):
                    changes["listing_url"] = event.listing_url
                if isinstance(event, Job.TaskVerified):
                    changes["backlink_id"] = event.backlink_id
                tasks.update(key, **changes)
                jobs.update(job, updated_at=at, event_position=notification_id)
            elif isinstance(event, Job.Canceled | Job.CancelRequested):
                for directory_id in event.directory_ids:
                    key = (event.originator_id, directory_id)
                    tasks.update(key, status=TaskStatus.CANCELED, updated_at=at)
                if isinstance(event, Job.Canceled):
                    row = jobs.get(job)
                    finished = row["finished_at"] if row and row["finished_at"] else at
                    jobs.update(
                        job,
                        status=JobStatus.CANCELED,
                        updated_at=at,
                        finished_at=finished,
                        event_position=notification_id,
                    )
                else:
                    jobs.update(job, updated_at=at, event_position=notification_id)
        await jobs.write(conn)
        await tasks.write(conn)


def _task_keys(event: Any) -> list[tuple[UUID, int]]:
    """The `job_tasks` rows (job id, directory id) that `event` writes."""
    if isinstance(event, Job.Created):
        return [(event.originator_id, t.directory_id) for t in event.tasks]
    if isinstance(event, Job.Canceled | Job.CancelRequested):
        return [(event.originator_id, d) for d in event.directory_ids]
    if type(event) in TASK_CHANGES:
        return [(event.originator_id, event.directory_id)]
    return []


TASK_CHANGES = {
    Job.TaskSubmitting: TaskStatus.SUBMITTING,
    Job.TaskSubmitted: TaskStatus.SUBMITTED,
    Job.TaskRetryScheduled: TaskStatus.PENDING,
    Job.TaskFailed: TaskStatus.FAILED,
    Job.TaskVerified: TaskStatus.VERIFIED,
    Job.TaskCanceled: TaskStatus.CANCELED,
}


class TaskRow(msgspec.Struct, frozen=True):
    """A row of `job_tasks` (of the job `job_id`), in the job's order `position`."""

    position: int
    directory_id: int
    directory_name: str
    status: str
    attempts: int
    listing_url: str | None
    backlink_id: UUID | None
    error_code: str | None
    error_details: str | None
    updated_at: datetime


class JobRow(msgspec.Struct, frozen=True):
    """A row of `jobs` with its tasks; `seq` is the cursor key."""

    id: UUID
    site_id: UUID
    status: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seq: int
    #: the notification id of the last event applied to the job (its streams' event id)
    event_position: int
    tasks: list[TaskRow]


def task_row(task: Task, position: int, updated_at: datetime) -> TaskRow:
    error = task.error
    return by_name(
        TaskRow,
        task,
        position=position,
        error_code=error.code if error else None,
        error_details=error.details if error else None,
        updated_at=updated_at,
    )


def job_row(job: Job) -> JobRow:
    """The row a just-saved job will have (read-your-writes while the projector lags)."""
    return by_name(
        JobRow,
        job,
        created_at=job.created_on,
        updated_at=job.modified_on,
        started_at=None,
        finished_at=job.modified_on if job.is_finished else None,
        seq=0,
        event_position=0,
        tasks=[task_row(t, i, job.modified_on) for i, t in enumerate(job.tasks)],
    )


#: the columns of `jobs` a reader sees (its tasks come from `job_tasks`)
_JOB = columns(JobRow, skip=("tasks",))


async def _with_tasks(conn: Any, rows: list[Any]) -> list[JobRow]:
    if not rows:
        return []
    tasks: dict[UUID, list[TaskRow]] = {r["id"]: [] for r in rows}
    for t in await conn.fetch(
        f"""SELECT job_id, {columns(TaskRow)} FROM job_tasks WHERE job_id = ANY($1::uuid[])
            ORDER BY job_id, position""",
        list(tasks),
    ):
        tasks[t["job_id"]].append(convert(t, TaskRow))
    return [convert(r, JobRow, tasks=tasks[r["id"]]) for r in rows]


_JOB_COLUMNS = [n for n in JobRow.__struct_fields__ if n != "tasks"]
#: a row of `_JOB_AND_TASKS` holds the job's columns, then its task's (`t_` and the
#: field's name) in `TaskRow`'s order: a task is built from the columns from here on
_TASK_FROM = len(_JOB_COLUMNS)
#: one job and its tasks in one round trip: a row per task (the job's columns repeated),
#: or one row with no task when it has none
_JOB_AND_TASKS = (
    f"SELECT {', '.join(f'j.{n}' for n in _JOB_COLUMNS)}, "
    f"{', '.join(f't.{n} AS t_{n}' for n in TaskRow.__struct_fields__)} "
    "FROM jobs j LEFT JOIN job_tasks t ON t.job_id = j.id "
    "WHERE j.id = $1 AND j.account_id = $2 ORDER BY t.position"
)


async def get_job(conn: Any, account_id: UUID, job_id: UUID) -> JobRow | None:
    rows = await conn.fetch(_JOB_AND_TASKS, job_id, account_id)
    if not rows:
        return None
    tasks = [TaskRow(*r[_TASK_FROM:]) for r in rows if r["t_position"] is not None]
    return convert(rows[0], JobRow, tasks=tasks)


async def list_jobs(
    conn: Any,
    account_id: UUID,
    *,
    status: str | None,
    site_id: UUID | None,
    limit: int,
    before: int | None,
) -> list[JobRow]:
    rows = await conn.fetch(
        f"""SELECT {_JOB} FROM jobs WHERE account_id = $1
            AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR site_id = $3)
            AND ($4::bigint IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5""",
        account_id,
        status,
        site_id,
        before,
        limit,
    )
    return await _with_tasks(conn, list(rows))
