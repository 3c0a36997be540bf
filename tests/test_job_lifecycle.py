"""What can happen to a job and its tasks, and when it is refused (pure domain)."""

from __future__ import annotations

import uuid

import pytest

from domain.job import Job, JobNotCancelable, JobStatus, Task, TaskStateConflict, TaskStatus


def new_job(*ids: int) -> Job:
    return Job(
        account_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        period="2026-11",
        tasks=[Task(i, f"Dir {i}", TaskStatus.PENDING) for i in ids],
    )


def statuses(job: Job) -> dict[int, str]:
    return {t.directory_id: t.status for t in job.tasks}


def test_a_job_completes_when_no_task_is_in_flight_and_one_was_submitted():
    job = new_job(1, 2)
    job.start()
    assert job.status == "running"
    job.begin_submission(1)
    assert statuses(job)[1] == TaskStatus.SUBMITTING and job.task(1).attempts == 1
    job.record_submitted(1, "https://dir/listing/1")
    assert job.status == "running"
    job.begin_submission(2)
    job.record_failed(2, "captcha_required", "The form needs a captcha.")
    assert job.status == "completed"
    assert statuses(job) == {1: TaskStatus.SUBMITTED, 2: TaskStatus.FAILED}
    # verification goes on without changing the job's status
    job.record_verified(1, uuid.uuid4())
    assert statuses(job)[1] == TaskStatus.VERIFIED and job.status == "completed"


def test_a_job_with_nothing_submitted_fails():
    job = new_job(1)
    job.start()
    job.begin_submission(1)
    job.record_failed(1, "rejected", "Duplicate entry")
    assert job.status == "failed"


def test_a_transient_failure_puts_the_task_back_to_pending_keeping_attempts():
    job = new_job(1)
    job.begin_submission(1)
    job.retry_later(1, "timeout", "No answer in 15 s.")
    task = job.task(1)
    assert (task.status, task.attempts, task.error.code) == (TaskStatus.PENDING, 1, "timeout")
    job.begin_submission(1)
    assert job.task(1).attempts == 2 and job.task(1).error is None


def test_out_of_order_transitions_are_refused():
    job = new_job(1)
    with pytest.raises(TaskStateConflict):
        job.record_verified(1, uuid.uuid4())  # never submitted
    job.begin_submission(1)
    with pytest.raises(TaskStateConflict):
        job.begin_submission(1)  # already submitting: a duplicate message
    job.record_submitted(1, None)
    with pytest.raises(TaskStateConflict):
        job.record_failed(1, "timeout", "late")  # a submitted task cannot fail to submit


def test_cancel_with_nothing_in_flight_cancels_the_job_at_once():
    job = new_job(1, 2, 3)
    job.start()
    job.begin_submission(1)
    job.record_submitted(1, None)
    assert job.cancel() == [2, 3]
    assert job.status == JobStatus.CANCELED
    assert statuses(job) == {
        1: TaskStatus.SUBMITTED,
        2: TaskStatus.CANCELED,
        3: TaskStatus.CANCELED,
    }
    with pytest.raises(JobNotCancelable):
        job.cancel()


def test_cancel_waits_for_the_attempt_in_flight_which_lands():
    job = new_job(1, 2, 3)
    job.start()
    job.begin_submission(1)
    assert job.cancel() == [2, 3]  # pending ones at once (their units are released)
    assert job.status == "running" and not job.is_finished
    assert statuses(job) == {
        1: TaskStatus.SUBMITTING,
        2: TaskStatus.CANCELED,
        3: TaskStatus.CANCELED,
    }
    assert job.cancel() == []  # asked again while waiting: nothing more to cancel
    assert job.status == "running"
    job.record_submitted(1, "https://dir/listing/1")  # the request in flight lands
    assert job.status == JobStatus.CANCELED
    assert statuses(job) == {
        1: TaskStatus.SUBMITTED,
        2: TaskStatus.CANCELED,
        3: TaskStatus.CANCELED,
    }
    job.record_verified(1, uuid.uuid4())  # verification goes on
    assert job.status == JobStatus.CANCELED
    with pytest.raises(JobNotCancelable):
        job.cancel()


def test_cancel_waits_for_every_attempt_in_flight_and_a_failure_is_recorded():
    job = new_job(1, 2, 3)
    job.start()
    job.begin_submission(1)
    job.begin_submission(2)
    job.cancel()
    job.record_failed(1, "captcha_required", "The form needs a captcha.")
    assert job.status == "running"  # 2 is still in flight
    job.record_submitted(2, None)
    assert job.status == JobStatus.CANCELED
    assert statuses(job) == {1: TaskStatus.FAILED, 2: TaskStatus.SUBMITTED, 3: TaskStatus.CANCELED}


def test_a_transient_failure_while_canceling_cancels_the_task_instead_of_retrying():
    job = new_job(1, 2)
    job.start()
    job.begin_submission(1)
    job.cancel()
    job.retry_later(1, "directory_unavailable", "HTTP 503")
    assert statuses(job) == {1: TaskStatus.CANCELED, 2: TaskStatus.CANCELED}
    assert job.task(1).error.code == "directory_unavailable"  # how the attempt ended
    assert job.status == JobStatus.CANCELED


def test_a_cancel_requested_job_replays_to_the_same_state():
    """The waiting cancel and its end are events: a job loaded from its history is in the
    same state as the one that lived it."""
    job = new_job(1, 2)
    job.start()
    job.begin_submission(1)
    job.cancel()
    events = job.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert copy.cancel_requested and copy.status == "running"
    assert statuses(copy) == statuses(job)
    copy.record_submitted(1, None)
    assert copy.status == JobStatus.CANCELED


def test_listing_not_found_fails_a_submitted_task_without_touching_the_job():
    job = new_job(1)
    job.begin_submission(1)
    job.record_submitted(1, None)
    job.record_listing_not_found(1, "Not listed after 14 days.")
    assert statuses(job)[1] == TaskStatus.FAILED and job.task(1).error.code == "listing_not_found"
    assert job.status == "completed"
