"""Job: one site submitted to a set of directories, one task per directory.

Job status: queued → running → completed | failed | canceled. A job is finished when no
task is pending or submitting: completed if at least one task was submitted, otherwise
failed. Verification goes on afterwards (submitted → verified, or failed with
listing_not_found) without changing the job's status.

Task status: pending → submitting → submitted → verified, or failed, skipped, canceled.
"""

from __future__ import annotations

from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict, NotFound

PENDING, SUBMITTING, SUBMITTED, VERIFIED = "pending", "submitting", "submitted", "verified"
FAILED, SKIPPED, CANCELED = "failed", "skipped", "canceled"
TASK_STATUSES = (PENDING, SUBMITTING, SUBMITTED, VERIFIED, FAILED, SKIPPED, CANCELED)
IN_FLIGHT = (PENDING, SUBMITTING)

QUEUED, RUNNING, COMPLETED, JOB_FAILED, JOB_CANCELED = (
    "queued",
    "running",
    "completed",
    "failed",
    "canceled",
)
JOB_STATUSES = (QUEUED, RUNNING, COMPLETED, JOB_FAILED, JOB_CANCELED)
FINISHED = (COMPLETED, JOB_FAILED, JOB_CANCELED)


class JobNotCancelable(Conflict):
    code = "job_not_cancelable"


class TaskError(msgspec.Struct, frozen=True):
    code: str
    details: str


class Task(msgspec.Struct, frozen=True):
    directory_id: int
    directory_name: str
    status: str
    attempts: int = 0
    listing_url: str | None = None
    backlink_id: UUID | None = None
    error: TaskError | None = None


def skipped(directory_id: int, name: str, code: str, details: str) -> Task:
    return Task(directory_id, name, SKIPPED, error=TaskError(code, details))


class Job(Aggregate):
    account_id: UUID
    site_id: UUID
    period: str
    status: str
    tasks: list[Task]

    @event("Created")
    def __init__(self, account_id: UUID, site_id: UUID, period: str, tasks: list[Task]) -> None:
        self.account_id = account_id
        self.site_id = site_id
        #: the quota period whose reservation this job holds
        self.period = period
        self.status = QUEUED
        self.tasks = tasks

    # -- queries ---------------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def task(self, directory_id: int) -> Task:
        for t in self.tasks:
            if t.directory_id == directory_id:
                return t
        raise NotFound(f"Job has no task for directory {directory_id}.")

    def ids_with_status(self, *statuses: str) -> list[int]:
        return [t.directory_id for t in self.tasks if t.status in statuses]

    def check_belongs_to(self, account_id: UUID) -> None:
        if self.account_id != account_id:
            raise NotFound("No such job.")

    # -- commands --------------------------------------------------------------------

    def cancel(self) -> list[int]:
        """Cancel the pending tasks; return their directory ids (their quota and site
        claims are to be released with this save)."""
        if self.is_finished:
            raise JobNotCancelable(f"The job is already {self.status}.")
        pending = self.ids_with_status(PENDING)
        self._cancel(pending)
        return pending

    @event("Canceled")
    def _cancel(self, directory_ids: list[int]) -> None:
        gone = set(directory_ids)
        self.tasks = [
            msgspec.structs.replace(t, status=CANCELED) if t.directory_id in gone else t
            for t in self.tasks
        ]
        self.status = JOB_CANCELED
