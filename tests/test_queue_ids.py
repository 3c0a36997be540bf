"""arq job ids (`adapters.queue_ids`): the same work gets the same id, so a repeated enqueue
is a no-op; different work never shares one. Pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from adapters import queue_ids

JOB, OTHER = uuid.uuid4(), uuid.uuid4()
CHECKED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_the_ids_keep_their_format():
    # ids already in Redis when a new version starts still deduplicate its enqueues
    h = JOB.hex
    assert queue_ids.run_job(JOB) == f"run_job:{h}"
    assert queue_ids.resume_job(JOB, 7) == f"resume:{h}:7"
    assert queue_ids.submit_task(JOB, 2, 0) == f"submit:{h}:2:a0"
    assert queue_ids.verify_listing(JOB, 2, 3) == f"verify:{h}:2:3"
    stamp = int(CHECKED.timestamp())
    assert queue_ids.recheck_backlink(JOB, CHECKED, 5) == f"recheck:{h}:{stamp}:5"


def test_a_submission_attempt_has_one_id_whoever_enqueues_it():
    # the fan-out of a job and the retry after a failure both name the attempt count
    fan_out = queue_ids.submit_task(JOB, 4, attempts=1)
    retry = queue_ids.submit_task(JOB, 4, attempts=1)
    assert fan_out == retry
    assert queue_ids.submit_task(JOB, 4, attempts=2) != retry


def test_different_work_gets_different_ids():
    ids = {
        queue_ids.run_job(JOB),
        queue_ids.run_job(OTHER),
        queue_ids.resume_job(JOB, 1),
        queue_ids.resume_job(JOB, 2),
        queue_ids.submit_task(JOB, 1, 0),
        queue_ids.submit_task(JOB, 2, 0),
        queue_ids.submit_task(OTHER, 1, 0),
        queue_ids.verify_listing(JOB, 1, 0),
        queue_ids.verify_listing(JOB, 1, 1),
        queue_ids.recheck_backlink(JOB, CHECKED, 1),
        queue_ids.recheck_backlink(JOB, CHECKED, 2),
        queue_ids.recheck_backlink(JOB, CHECKED + timedelta(seconds=1), 1),
    }
    assert len(ids) == 12
