"""Jobs, sites and quota through the application services. Most run on the in-memory
repository and catalogue (what they test is the services' rules); the concurrent
reservations, the cancel racing attempts in flight and a site's archive-and-register run
on the real event store."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.memory_repository import InMemoryRepository
from domain.job import JobNotCancelable, TaskStatus
from domain.quota import Quota, QuotaExceeded
from domain.services import delivery, jobs, sites
from domain.services.jobs import DirectoryNotInPlan, NoEligibleDirectories, UnknownDirectory
from domain.site import SiteExists, SiteLimitReached
from tests.support import Limits, job_ports, listed_catalogue, new_job, new_site, site_ports


class Memory:
    """The services' stores without Postgres."""

    def __init__(self) -> None:
        self.repository = InMemoryRepository()
        self.catalogue = listed_catalogue()


@pytest.fixture
def memory() -> Memory:
    return Memory()


async def test_a_job_reserves_one_unit_per_task_in_the_same_save(memory):
    account = uuid.uuid4()
    site = await new_site(memory.repository, account)
    job, _ = await new_job(memory.repository, memory.catalogue, account, site.id, [1, 2, 2, 3])
    assert [t.directory_id for t in job.tasks] == [1, 2, 3]
    quota = await memory.repository.get(Quota.create_id(account, "2026-11"), Quota)
    assert quota.reserved == {job.id.hex: 3} and quota.remaining(150) == 147


async def test_without_ids_every_active_directory_within_the_cap(memory):
    account = uuid.uuid4()
    site = await new_site(memory.repository, account)
    job, _ = await new_job(memory.repository, memory.catalogue, account, site.id, None)
    assert [t.directory_id for t in job.tasks] == [1, 2, 3, 4]  # 5 paused, 6 above DR 50
    # a second job finds nothing left for this site
    with pytest.raises(NoEligibleDirectories):
        await new_job(memory.repository, memory.catalogue, account, site.id, None)


async def test_already_submitted_directories_are_skipped_and_cost_nothing(memory):
    account = uuid.uuid4()
    site = await new_site(memory.repository, account)
    first, _ = await new_job(memory.repository, memory.catalogue, account, site.id, [1])
    second, _ = await new_job(memory.repository, memory.catalogue, account, site.id, [1, 2])
    assert [(t.directory_id, t.status) for t in second.tasks] == [
        (1, TaskStatus.SKIPPED),
        (2, TaskStatus.PENDING),
    ]
    assert second.tasks[0].error and second.tasks[0].error.code == "already_submitted"
    quota = await memory.repository.get(Quota.create_id(account, "2026-11"), Quota)
    assert quota.reserved == {first.id.hex: 1, second.id.hex: 1}


async def test_bad_directory_requests_are_refused_and_change_nothing(memory):
    account = uuid.uuid4()
    site = await new_site(memory.repository, account)
    before = memory.repository.position
    for ids, error, field in [
        ([99], UnknownDirectory, "directory_ids[0]"),
        ([1, 5], UnknownDirectory, "directory_ids[1]"),
        ([6], DirectoryNotInPlan, "directory_ids[0]"),
        ([], jobs.ValidationFailed, "directory_ids"),
        (list(range(1, 1001)), jobs.ValidationFailed, "directory_ids"),
    ]:
        with pytest.raises(error) as caught:
            await new_job(memory.repository, memory.catalogue, account, site.id, ids)
        assert caught.value.field == field
    assert memory.repository.position == before


async def test_quota_exhausted_says_what_remains_and_when_it_resets(memory):
    account = uuid.uuid4()
    site = await new_site(memory.repository, account)
    with pytest.raises(QuotaExceeded) as caught:
        await new_job(
            memory.repository,
            memory.catalogue,
            account,
            site.id,
            [1, 2, 3],
            plan=Limits(monthly_submissions=2),
        )
    assert "2 of 2 remain" in caught.value.details
    assert "2026-12-01T00:00:00Z" in caught.value.details


async def test_twenty_concurrent_jobs_against_ten_units(infra, catalogue):
    account = uuid.uuid4()
    plan = Limits(monthly_submissions=10, max_sites=30)
    site_list = [
        await new_site(infra.repository, account, f"https://s{i}.example.com", plan)
        for i in range(20)
    ]
    results = await asyncio.gather(
        *(
            jobs.create_job(
                job_ports(infra.repository, catalogue),
                account_id=account,
                plan=plan,
                site_id=s.id,
                directory_ids=[1],
            )
            for s in site_list
        ),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 10 and all(isinstance(r, QuotaExceeded) for r in refused), refused
    quota = await infra.repository.get(Quota.create_id(account, "2026-11"), Quota)
    assert quota.total_reserved == 10


async def test_cancel_releases_pending_units_and_claims(memory):
    account = uuid.uuid4()
    repo, ports = memory.repository, job_ports(memory.repository, memory.catalogue)
    site = await new_site(repo, account)
    job, _ = await new_job(repo, memory.catalogue, account, site.id, [1, 2])
    canceled, _ = await jobs.cancel_job(ports, account_id=account, job_id=job.id)
    assert canceled.status == "canceled"
    assert {t.status for t in canceled.tasks} == {TaskStatus.CANCELED}
    quota = await repo.get(Quota.create_id(account, "2026-11"), Quota)
    assert quota.reserved == {}
    with pytest.raises(JobNotCancelable):
        await jobs.cancel_job(ports, account_id=account, job_id=job.id)
    # the directories can be asked for again
    again, _ = await new_job(repo, memory.catalogue, account, site.id, [1, 2])
    assert {t.status for t in again.tasks} == {TaskStatus.PENDING}


async def test_cancel_in_flight_releases_at_once_what_is_pending_and_later_what_fails(
    infra, catalogue
):
    """Cancel with two tasks submitting: the pending one is released at once; of those in
    flight, the one that lands consumes its unit, the transient failure is canceled (not
    retried) and released; the job is canceled when the last attempt ends."""
    from domain.services.delivery import RetryLater, Submitted

    account = uuid.uuid4()
    site = await new_site(infra.repository, account)
    job, _ = await new_job(infra.repository, catalogue, account, site.id, [1, 2, 3])
    repo, ports = infra.repository, job_ports(infra.repository, catalogue)
    for directory_id in (1, 2):
        await delivery.begin_submission(repo, job.id, directory_id)
    waiting, _ = await jobs.cancel_job(ports, account_id=account, job_id=job.id)
    assert waiting.status == "queued" and not waiting.is_finished
    quota = await repo.get(Quota.create_id(account, "2026-11"), Quota)
    assert quota.reserved == {job.id.hex: 2}  # 3 released at once
    again, _ = await jobs.cancel_job(ports, account_id=account, job_id=job.id)  # no change
    assert again.version == waiting.version
    await delivery.record_outcome(repo, job.id, 1, Submitted("https://dir1.example/l"))
    done = await delivery.record_outcome(repo, job.id, 2, RetryLater("timeout", "slow"))
    assert done.status == "canceled"
    assert [(t.directory_id, t.status) for t in done.tasks] == [
        (1, "submitted"),
        (2, TaskStatus.CANCELED),
        (3, TaskStatus.CANCELED),
    ]
    quota = await repo.get(Quota.create_id(account, "2026-11"), Quota)
    assert quota.reserved == {} and quota.used == 1
    with pytest.raises(JobNotCancelable):
        await jobs.cancel_job(ports, account_id=account, job_id=job.id)
    # 2 and 3 may be asked for again; 1 was submitted
    later, _ = await new_job(repo, catalogue, account, site.id, [1, 2, 3])
    assert [t.status for t in later.tasks] == [
        TaskStatus.SKIPPED,
        TaskStatus.PENDING,
        TaskStatus.PENDING,
    ]


async def test_another_accounts_site_or_job_is_not_found(memory):
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    repo = memory.repository
    ports = job_ports(repo, memory.catalogue)
    site = await new_site(repo, owner)
    job, _ = await new_job(repo, memory.catalogue, owner, site.id, [1])
    for call in (
        jobs.create_job(
            ports, account_id=stranger, plan=Limits(), site_id=site.id, directory_ids=[1]
        ),
        jobs.cancel_job(ports, account_id=stranger, job_id=job.id),
        sites.update_site(
            site_ports(repo), account_id=stranger, site_id=site.id, changes={"name": "mine"}
        ),
        sites.archive_site(site_ports(repo), account_id=stranger, site_id=site.id),
    ):
        with pytest.raises(jobs.NotFound):
            await call


async def test_site_unique_per_account_and_limited_by_plan(memory):
    account, repo = uuid.uuid4(), memory.repository
    await new_site(repo, account, "https://Example.com:443/")
    with pytest.raises(SiteExists):
        await new_site(repo, account, "https://example.com/")
    await new_site(repo, uuid.uuid4(), "https://example.com/")  # other account
    with pytest.raises(SiteLimitReached):
        await new_site(repo, account, "https://other.example.com/", plan=Limits(max_sites=1))


async def test_archiving_frees_the_url_for_a_new_registration(infra):
    account = uuid.uuid4()
    site = await new_site(infra.repository, account)
    await sites.archive_site(site_ports(infra.repository), account_id=account, site_id=site.id)
    again = await new_site(infra.repository, account)
    assert again.id != site.id
