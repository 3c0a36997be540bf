"""`deliver`: one task submitted exactly once, in-process against the sandbox directories
and real Postgres and Redis. Retries give up after MAX_ATTEMPTS and hand back the quota
and the site's claim; an uncertain earlier attempt is looked for before any new one."""

from __future__ import annotations

import asyncio

from domain.services.delivery import begin_submission, deliver, run_job
from domain.task_schedule import MAX_ATTEMPTS
from tests.flows.support import (
    add_directories,
    delivery,
    json_directory,
    new_job,
    submissions_seen,
    task_of,
)
from tests.workers_support import eventually


async def retries_scheduled(client, job: dict) -> int:
    a = await client.get(f"/api/v1/jobs/{job['id']}/events")
    assert a.status == 200, a.body
    return sum(e["type"] == "Job.TaskRetryScheduled" for e in a.body["data"])


async def test_a_directory_that_keeps_failing_is_retried_then_failed_and_everything_released(
    api, infra, isolated_settings, agency, closed_port
):
    closed = f"http://127.0.0.1:{closed_port}/api/listings"  # nothing listens there
    await add_directories(infra, json_directory(20, closed))
    job, job_id, _ = await new_job(agency, [20])
    d = delivery(infra, isolated_settings)

    for attempt in (1, 2):
        assert await deliver(d, job_id, 20) == "RetryLater"
        task = await task_of(infra, job_id, 20)
        assert (task.status, task.attempts) == ("pending", attempt)
        assert task.error.code == "directory_unavailable"
    assert await deliver(d, job_id, 20) == "Failed"

    task = await task_of(infra, job_id, 20)
    assert (task.status, task.attempts) == ("failed", MAX_ATTEMPTS)
    assert task.error.code == "directory_unavailable"
    assert f"gave up after {MAX_ATTEMPTS} attempts" in task.error.details
    assert await retries_scheduled(agency, job) == 2
    shown = (await agency.get(f"/api/v1/jobs/{job['id']}")).body
    assert shown["status"] == "failed" and shown["tasks"][0]["attempts"] == MAX_ATTEMPTS
    usage = await agency.usage()
    assert (usage["reserved"], usage["used"]) == (0, 0)
    # the site's claim on the directory is given back: a new job may try it again
    again = await agency.job(job["site_id"], [20])
    assert [t["status"] for t in again["tasks"]] == ["pending"]
    # and a late duplicate message for the failed task does nothing
    assert (await deliver(d, job_id, 20)).startswith("nothing to do")


async def test_a_timed_out_attempt_that_landed_is_not_submitted_again(
    api, infra, isolated_settings, agency, sandbox
):
    _job, job_id, domain = await new_job(agency, [1])
    # the directory records the submission but answers after the submitter gave up
    # (its patience is long enough to fetch the form on a busy machine)
    sandbox.state.hold()
    impatient = delivery(infra, isolated_settings, timeout=4.0)
    assert await deliver(impatient, job_id, 1) == "RetryLater"
    task = await task_of(infra, job_id, 1)
    assert (task.status, task.error.code) == ("pending", "timeout")
    sandbox.state.release()

    async def landed():
        return (await submissions_seen(sandbox, agency)).get("startup-index") == 1

    await eventually(landed, timeout=60, every=0.05)
    outcome = await deliver(delivery(infra, isolated_settings), job_id, 1)
    assert outcome == "an earlier attempt had landed"
    task = await task_of(infra, job_id, 1)
    assert (task.status, task.attempts) == ("submitted", 1)
    assert task.listing_url == f"{sandbox.base}/startup-index/site/{domain}"
    assert await submissions_seen(sandbox, agency) == {"startup-index": 1}
    assert (await agency.usage())["used"] == 1


async def test_a_task_found_submitting_with_no_listing_is_submitted_again_exactly_once(
    api, infra, isolated_settings, agency, sandbox
):
    _job, job_id, domain = await new_job(agency, [3])
    # a worker marked it submitting and died before its request left
    await begin_submission(infra.repository, job_id, 3)
    d = delivery(infra, isolated_settings)
    assert await deliver(d, job_id, 3) == "Submitted"
    task = await task_of(infra, job_id, 3)
    assert (task.status, task.attempts) == ("submitted", 2)
    assert task.listing_url == f"{sandbox.base}/local-listings/site/{domain}"
    assert await submissions_seen(sandbox, agency) == {"local-listings": 1}
    # the message that the recovery scheduled finds nothing left to do
    assert (await deliver(d, job_id, 3)).startswith("nothing to do")
    assert await submissions_seen(sandbox, agency) == {"local-listings": 1}


async def test_a_directory_removed_from_the_catalogue_fails_the_task(
    api, infra, isolated_settings, agency, sandbox
):
    _job, job_id, _ = await new_job(agency, [1, 2])
    await infra.pool.execute("DELETE FROM directories WHERE id = 1")
    d = delivery(infra, isolated_settings)
    assert await deliver(d, job_id, 1) == "directory left the catalogue"
    task = await task_of(infra, job_id, 1)
    assert (task.status, task.error.code, task.attempts) == ("failed", "directory_unavailable", 0)
    assert await submissions_seen(sandbox, agency) == {}
    assert (await agency.usage())["reserved"] == 1  # directory 2's unit only


async def test_a_directory_paused_after_the_job_was_made_fails_the_task_unsubmitted(
    api, infra, isolated_settings, agency, sandbox
):
    _job, job_id, _ = await new_job(agency, [1])
    await infra.pool.execute(
        "UPDATE directories SET status = 'paused', "
        "spec = jsonb_set(spec, '{status}', '\"paused\"') WHERE id = 1"
    )
    d = delivery(infra, isolated_settings)
    assert await deliver(d, job_id, 1) == "directory is paused"
    task = await task_of(infra, job_id, 1)
    assert (task.status, task.error.code) == ("failed", "directory_unavailable")
    assert await submissions_seen(sandbox, agency) == {}
    assert (await agency.usage())["reserved"] == 0


async def test_a_canceled_jobs_pending_task_is_not_submitted(
    api, infra, isolated_settings, agency, sandbox
):
    job, job_id, _ = await new_job(agency, [1, 2])
    assert (await agency.post(f"/api/v1/jobs/{job['id']}/cancel")).status == 202
    d = delivery(infra, isolated_settings)
    assert await run_job(d, job_id) == []
    for directory_id in (1, 2):
        assert await deliver(d, job_id, directory_id) == "nothing to do: task is canceled"
    assert await submissions_seen(sandbox, agency) == {}
    usage = await agency.usage()
    assert (usage["reserved"], usage["used"]) == (0, 0)


async def test_duplicate_messages_racing_submit_once(
    api, infra, isolated_settings, agency, sandbox
):
    _job, job_id, _ = await new_job(agency, [2])
    d = delivery(infra, isolated_settings)
    results = await asyncio.gather(*(deliver(d, job_id, 2) for _ in range(3)))
    assert results.count("Submitted") == 1, results
    assert await submissions_seen(sandbox, agency) == {"saas-hub": 1}
    assert (await task_of(infra, job_id, 2)).status == "submitted"


async def test_an_attempt_timing_out_after_a_cancel_is_settled_by_what_landed(
    api, infra, isolated_settings, agency, sandbox
):
    """The job is canceled while its one task is submitting, and the attempt then times
    out: no retry will follow, so the listing is looked for at once — it landed, so the
    task is submitted (its unit consumed, its directory kept) and the job canceled."""
    job, job_id, domain = await new_job(agency, [1])
    sandbox.state.hold()  # recorded, never answered in time
    # patient enough for the cancel below to land first on a busy machine
    impatient = delivery(infra, isolated_settings, timeout=8.0)
    attempt = asyncio.create_task(deliver(impatient, job_id, 1))

    async def submitting():
        return (await task_of(infra, job_id, 1)).status == "submitting"

    await eventually(submitting, timeout=30, every=0.02)
    waiting = await agency.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert waiting.status == 202 and waiting.body["status"] == "queued"
    assert await attempt == "Submitted"  # the timeout, settled by the listing found
    sandbox.state.release()
    task = await task_of(infra, job_id, 1)
    assert (task.status, task.attempts) == ("submitted", 1)
    assert task.listing_url == f"{sandbox.base}/startup-index/site/{domain}"
    shown = (await agency.get(f"/api/v1/jobs/{job['id']}")).body
    assert shown["status"] == "canceled" and shown["progress"]["percent"] == 100
    usage = await agency.usage()
    assert (usage["reserved"], usage["used"]) == (0, 1)
    assert await submissions_seen(sandbox, agency) == {"startup-index": 1}
