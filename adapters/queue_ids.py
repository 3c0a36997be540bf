"""The arq job id of each kind of work, one function each (ARCHITECTURE.md, "Projections":
`_job_id` derived from what caused the job).

The same work always gets the same id, so enqueuing it again — a replayed event, a fan-out
run twice, a cron firing again — is a no-op while arq remembers the id
(`adapters.queue.KEEP_RESULT_SECONDS`); different work never shares one.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID


def run_job(job_id: UUID) -> str:
    """The job's start (`Job.Created`)."""
    return f"run_job:{job_id.hex}"


def resume_job(job_id: UUID, window: int) -> str:
    """A stalled job fanned out again, once per resume window (`domain.cron_windows`)."""
    return f"resume:{job_id.hex}:{window}"


def submit_task(job_id: UUID, directory_id: int, attempts: int) -> str:
    """A task's next attempt. A task waits with a given attempt count at most once (every
    attempt raises it), so the fan-out of a job and the retry after a transient failure
    (`Job.TaskRetryScheduled` carries the count) share the id of the same attempt."""
    return f"submit:{job_id.hex}:{directory_id}:a{attempts}"


def verify_listing(job_id: UUID, directory_id: int, look: int) -> str:
    """Look number `look` (0-based) for a submitted task's listing."""
    return f"verify:{job_id.hex}:{directory_id}:{look}"


def recheck_backlink(backlink_id: UUID, last_checked_at: datetime, period: int) -> str:
    """A re-check of a backlink as last checked at `last_checked_at`, once per re-check
    period (`domain.cron_windows`)."""
    return f"recheck:{backlink_id.hex}:{int(last_checked_at.timestamp())}:{period}"


def first_check(backlink_id: UUID) -> str:
    """The first check of a backlink added to monitoring (`Backlink.Added`)."""
    return f"first-check:{backlink_id.hex}"


def recheck_now(backlink_id: UUID, window: int) -> str:
    """A re-check asked for through the API, once per window (`domain.cron_windows`)."""
    return f"recheck-now:{backlink_id.hex}:{window}"
