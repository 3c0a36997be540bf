"""`verify`: looking for a submitted task's listing, in-process against the sandbox. The
schedule of looks comes from `domain.task_schedule`; the task stays `submitted` between
looks and fails with `listing_not_found` after the last one."""

from __future__ import annotations

from datetime import timedelta

from domain.services import verification
from domain.services.delivery import Submitted, begin_submission, deliver, record_outcome
from domain.task_schedule import looks
from tests.core.client import event_count
from tests.flows.support import add_directories, delivery, new_job, task_of


async def submitted_without_listing(infra, job_id, directory_id: int, listing_url: str) -> None:
    """The task as a worker leaves it when the directory accepted the submission but has
    not published the listing yet."""
    await begin_submission(infra.repository, job_id, directory_id)
    await record_outcome(infra.repository, job_id, directory_id, Submitted(listing_url))


async def test_an_absent_listing_is_looked_for_again_an_hour_later(
    api, infra, isolated_settings, agency, sandbox
):
    _job, job_id, domain = await new_job(agency, [1])
    listing = f"{sandbox.base}/startup-index/site/{domain}"
    await submitted_without_listing(infra, job_id, 1, listing)
    d = delivery(infra, isolated_settings)
    assert await verification.verify(d, job_id, 1, 0) == ("not_yet", timedelta(hours=1))
    assert await verification.verify(d, job_id, 1, 1) == ("not_yet", timedelta(hours=6))
    task = await task_of(infra, job_id, 1)
    assert (task.status, task.error, task.listing_url) == ("submitted", None, listing)


async def test_the_last_look_without_a_listing_fails_the_task(
    api, infra, isolated_settings, agency, sandbox
):
    job, job_id, domain = await new_job(agency, [1])
    listing = f"{sandbox.base}/startup-index/site/{domain}"
    await submitted_without_listing(infra, job_id, 1, listing)
    last = len(looks(0)) - 1
    look = await verification.verify(delivery(infra, isolated_settings), job_id, 1, last)
    assert look == ("listing_not_found", None)
    task = await task_of(infra, job_id, 1)
    assert (task.status, task.error.code) == ("failed", "listing_not_found")
    assert domain in task.error.details and listing in task.error.details
    shown = (await agency.get(f"/api/v1/jobs/{job['id']}")).body
    # the job stays completed: verification does not change it; the quota stays used
    assert shown["status"] == "completed" and shown["tasks"][0]["status"] == "failed"
    usage = await agency.usage()
    assert (usage["used"], usage["reserved"]) == (1, 0)


async def test_a_published_listing_verifies_the_task_and_discovers_the_backlink(
    api, infra, isolated_settings, agency, sandbox
):
    _job, job_id, _domain = await new_job(agency, [3])
    d = delivery(infra, isolated_settings)
    assert await deliver(d, job_id, 3) == "Submitted"
    assert await verification.verify(d, job_id, 3, 0) == ("verified", None)
    task = await task_of(infra, job_id, 3)
    assert task.status == "verified" and task.backlink_id is not None
    # a repeated message finds the task settled and changes nothing
    before = await event_count(infra)
    assert await verification.verify(d, job_id, 3, 0) == ("nothing_to_do", None)
    assert await event_count(infra) == before


async def test_no_listing_url_to_check_fails_at_once(
    api, infra, isolated_settings, agency, sandbox
):
    # the sandbox's CSRF form directory without its listing template: its "thank you"
    # page names no listing, so nothing tells where the listing would be
    entry = next(e for e in sandbox.catalogue() if e["id"] == 1)
    entry = {k: v for k, v in entry.items() if k != "listing_url_template"} | {"id": 21}
    await add_directories(infra, entry)
    _job, job_id, _ = await new_job(agency, [21])
    d = delivery(infra, isolated_settings)
    assert await deliver(d, job_id, 21) == "Submitted"
    task = await task_of(infra, job_id, 21)
    assert (task.status, task.listing_url) == ("submitted", None)
    assert await verification.verify(d, job_id, 21, 0) == ("listing_not_found", None)
    task = await task_of(infra, job_id, 21)
    assert (task.status, task.error.code) == ("failed", "listing_not_found")


async def test_a_task_that_is_not_submitted_is_left_alone(
    api, infra, isolated_settings, agency, sandbox
):
    job, job_id, _ = await new_job(agency, [1, 2])
    d = delivery(infra, isolated_settings)
    for expected in ("pending", "canceled"):
        before = await event_count(infra)
        for directory_id in (1, 2):
            look = await verification.verify(d, job_id, directory_id, 0)
            assert look == ("nothing_to_do", None)
            assert (await task_of(infra, job_id, directory_id)).status == expected
        assert await event_count(infra) == before
        await agency.post(f"/api/v1/jobs/{job['id']}/cancel")
