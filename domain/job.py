"""Job: one site submitted to a set of directories, one task per directory.

Job status: queued → running → completed | failed | canceled. A job is finished when no
task is pending or submitting: canceled if a cancel was asked for, else completed if at
least one task was submitted, otherwise failed. Verification goes on afterwards
(submitted → verified, or failed with listing_not_found) without changing the job's
status.

Cancel: pending tasks are canceled at once; a task being submitted finishes its attempt
(submitted or failed as usual — a transient failure is not retried but canceled), and the
job becomes canceled when the last of them settles. Until then it keeps its status
(`running`), and asking again changes nothing; once finished, cancel is refused.

Task status: pending → submitting → submitted → verified, or failed, skipped, canceled.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

import msgspec
from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import Conflict, NotFound


class TaskStatus(StrEnum):
    """A task's status; its value is what events, tables and answers hold."""

    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"


class JobStatus(StrEnum):
    """A job's status; its value is what events, tables and answers hold."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


#: in the order the API documents them
TASK_STATUSES = tuple(TaskStatus)
JOB_STATUSES = tuple(JobStatus)
#: tasks that still wait for a worker
IN_FLIGHT = (TaskStatus.PENDING, TaskStatus.SUBMITTING)
#: jobs that a worker may still act on
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


class JobNotCancelable(Conflict):
    code = "job_not_cancelable"


class TaskStateConflict(Conflict):
    """A worker asked for a transition the task's state does not allow (a duplicate or
    late message): the caller should reload and re-decide, never force it."""

    code = "task_state_conflict"


class TaskError(msgspec.Struct, frozen=True):
    code: str
    details: str


class Task(msgspec.Struct, frozen=True):
    directory_id: int
    directory_name: str
    status: TaskStatus
    attempts: int = 0
    listing_url: str | None = None
    backlink_id: UUID | None = None
    error: TaskError | None = None


def skipped(directory_id: int, name: str, code: str, details: str) -> Task:
    return Task(directory_id, name, TaskStatus.SKIPPED, error=TaskError(code, details))


def job_not_found() -> NotFound:
    """Unknown id and another account's id get this same answer: nothing tells them apart."""
    return NotFound("No job with this id.")


class Job(Aggregate):
    account_id: UUID
    site_id: UUID
    period: str
    status: JobStatus
    tasks: list[Task]

    @event("Created")
    def __init__(self, account_id: UUID, site_id: UUID, period: str, tasks: list[Task]) -> None:
        self.account_id = account_id
        self.site_id = site_id
        #: the quota period whose reservation this job holds
        self.period = period
        self.status = JobStatus.QUEUED
        self.tasks = tasks
        #: a cancel waits for the tasks in flight (see `cancel`)
        self.cancel_requested = False

    # -- queries ---------------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def task(self, directory_id: int) -> Task:
        for t in self.tasks:
            if t.directory_id == directory_id:
                return t
        raise NotFound(f"Job has no task for directory {directory_id}.")

    def ids_with_status(self, *statuses: TaskStatus) -> list[int]:
        return [t.directory_id for t in self.tasks if t.status in statuses]

    def check_belongs_to(self, account_id: UUID) -> None:
        if self.account_id != account_id:
            raise job_not_found()

    def check_task_is(self, directory_id: int, *statuses: TaskStatus) -> Task:
        task = self.task(directory_id)
        if task.status not in statuses:
            raise TaskStateConflict(
                f"Task {directory_id} is {task.status}, not {' or '.join(statuses)}."
            )
        return task

    # -- commands --------------------------------------------------------------------

    def start(self) -> None:
        """A worker picked the job up."""
        if self.status == JobStatus.QUEUED:
            self._start()

    @event("Started")
    def _start(self) -> None:
        self.status = JobStatus.RUNNING

    def begin_submission(self, directory_id: int) -> None:
        """Mark the task `submitting` BEFORE the outbound request, so that a worker that
        dies mid-request leaves a trace: the resumed job verifies before it retries."""
        self.check_task_is(directory_id, TaskStatus.PENDING)
        self._begin_submission(directory_id)

    @event("TaskSubmitting")
    def _begin_submission(self, directory_id: int) -> None:
        t = self.task(directory_id)
        self._put(
            msgspec.structs.replace(
                t, status=TaskStatus.SUBMITTING, attempts=t.attempts + 1, error=None
            )
        )

    def record_submitted(self, directory_id: int, listing_url: str | None) -> None:
        self.check_task_is(directory_id, TaskStatus.SUBMITTING, TaskStatus.PENDING)
        self._record_submitted(directory_id, listing_url)
        self._finish_if_settled()

    @event("TaskSubmitted")
    def _record_submitted(self, directory_id: int, listing_url: str | None) -> None:
        t = self.task(directory_id)
        self._put(
            msgspec.structs.replace(
                t, status=TaskStatus.SUBMITTED, listing_url=listing_url, error=None
            )
        )

    def retry_later(self, directory_id: int, code: str, details: str) -> None:
        """A transient failure: back to `pending`, keeping the attempt count — unless the
        job is being canceled: then the task is canceled (its unit and site claim are to
        be released with this save) and the job may finish."""
        task = self.check_task_is(directory_id, TaskStatus.SUBMITTING)
        if self.cancel_requested:
            self._cancel_task(directory_id, code, details)
            self._finish_if_settled()
            return
        self._retry_later(directory_id, task.attempts, code, details)

    @event("TaskRetryScheduled")
    def _retry_later(self, directory_id: int, attempts: int, code: str, details: str) -> None:
        # `attempts` so far travels with the event: the dispatcher backs off by it
        t = self.task(directory_id)
        self._put(
            msgspec.structs.replace(t, status=TaskStatus.PENDING, error=TaskError(code, details))
        )

    def record_failed(self, directory_id: int, code: str, details: str) -> None:
        """The submission failed for good (its quota unit is to be released)."""
        self.check_task_is(directory_id, TaskStatus.PENDING, TaskStatus.SUBMITTING)
        self._record_failed(directory_id, code, details)
        self._finish_if_settled()

    def record_listing_not_found(self, directory_id: int, details: str) -> None:
        """Verification gave up: the directory never published the listing."""
        self.check_task_is(directory_id, TaskStatus.SUBMITTED)
        self._record_failed(directory_id, "listing_not_found", details)

    @event("TaskFailed")
    def _record_failed(self, directory_id: int, code: str, details: str) -> None:
        t = self.task(directory_id)
        self._put(
            msgspec.structs.replace(t, status=TaskStatus.FAILED, error=TaskError(code, details))
        )

    def record_verified(self, directory_id: int, backlink_id: UUID) -> None:
        self.check_task_is(directory_id, TaskStatus.SUBMITTED)
        self._record_verified(directory_id, backlink_id)

    @event("TaskVerified")
    def _record_verified(self, directory_id: int, backlink_id: UUID) -> None:
        t = self.task(directory_id)
        self._put(
            msgspec.structs.replace(
                t, status=TaskStatus.VERIFIED, backlink_id=backlink_id, error=None
            )
        )

    @event("TaskCanceled")
    def _cancel_task(self, directory_id: int, code: str, details: str) -> None:
        # the error says how the attempt in flight ended
        t = self.task(directory_id)
        self._put(
            msgspec.structs.replace(t, status=TaskStatus.CANCELED, error=TaskError(code, details))
        )

    def _finish_if_settled(self) -> None:
        if self.status in UNFINISHED and not self.ids_with_status(*IN_FLIGHT):
            if self.cancel_requested:
                self._finish(JobStatus.CANCELED)
            elif self.ids_with_status(TaskStatus.SUBMITTED, TaskStatus.VERIFIED):
                self._finish(JobStatus.COMPLETED)
            else:
                self._finish(JobStatus.FAILED)

    @event("Finished")
    def _finish(self, status: JobStatus) -> None:
        self.status = status

    def _put(self, task: Task) -> None:
        self.tasks = [task if t.directory_id == task.directory_id else t for t in self.tasks]

    def cancel(self) -> list[int]:
        """Cancel the pending tasks at once; return their directory ids (their quota and
        site claims are to be released with this save). With a task still submitting,
        the job stays as it is until that attempt ends (`_finish_if_settled`); asking
        again meanwhile cancels nothing more. Refused once the job has finished."""
        if self.is_finished:
            raise JobNotCancelable(f"The job is already {self.status}.")
        if self.cancel_requested:
            return []
        pending = self.ids_with_status(TaskStatus.PENDING)
        if self.ids_with_status(TaskStatus.SUBMITTING):
            self._request_cancel(pending)
        else:
            self._cancel(pending)
        return pending

    @event("CancelRequested")
    def _request_cancel(self, directory_ids: list[int]) -> None:
        self._mark_canceled(directory_ids)
        self.cancel_requested = True

    @event("Canceled")
    def _cancel(self, directory_ids: list[int]) -> None:
        """Nothing was in flight: canceled at once."""
        self._mark_canceled(directory_ids)
        self.status = JobStatus.CANCELED

    def _mark_canceled(self, directory_ids: list[int]) -> None:
        gone = set(directory_ids)
        self.tasks = [
            msgspec.structs.replace(t, status=TaskStatus.CANCELED) if t.directory_id in gone else t
            for t in self.tasks
        ]
