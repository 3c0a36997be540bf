"""Use cases of the workers: run a job's tasks, record what each submission did, verify
listings and re-check backlinks. Each changes the job together with what must change
with it (quota, site claims, backlink) in one atomic save."""

from __future__ import annotations

from uuid import UUID

import msgspec

from domain.backlink import Backlink, Evidence
from domain.job import Job
from domain.ports import Repository
from domain.services.jobs import load_quota
from domain.services.retry import on_conflict
from domain.site import Site


class Submitted(msgspec.Struct, frozen=True, tag=True):
    listing_url: str | None = None


class Failed(msgspec.Struct, frozen=True, tag=True):
    """For good: captcha_required, rejected, form_not_found, or retries exhausted."""

    code: str
    details: str


class RetryLater(msgspec.Struct, frozen=True, tag=True):
    """Transient (timeout, 5xx, connection error): the task goes back to pending."""

    code: str
    details: str


Outcome = Submitted | Failed | RetryLater


async def start_job(repo: Repository, job_id: UUID) -> Job:
    async def attempt() -> Job:
        job = await repo.get(job_id, Job)
        job.start()
        await repo.save(job)
        return job

    return await on_conflict(attempt)


async def begin_submission(repo: Repository, job_id: UUID, directory_id: int) -> Job:
    """Mark the task submitting (raises TaskStateConflict unless it is pending)."""

    async def attempt() -> Job:
        job = await repo.get(job_id, Job)
        job.begin_submission(directory_id)
        await repo.save(job)
        return job

    return await on_conflict(attempt)


async def record_outcome(
    repo: Repository, job_id: UUID, directory_id: int, outcome: Outcome
) -> Job:
    async def attempt() -> Job:
        job = await repo.get(job_id, Job)
        changed: list = [job]
        if isinstance(outcome, Submitted):
            job.record_submitted(directory_id, outcome.listing_url)
            quota = await load_quota(repo, job.account_id, job.period)
            quota.consume(job.id)
            changed.append(quota)
        elif isinstance(outcome, Failed):
            job.record_failed(directory_id, outcome.code, outcome.details)
            quota = await load_quota(repo, job.account_id, job.period)
            quota.release(job.id)
            site = await repo.get(job.site_id, Site)
            site.unclaim(job.id, [directory_id])  # a later job may try this directory again
            changed += [quota, site]
        else:
            job.retry_later(directory_id, outcome.code, outcome.details)
        await repo.save(*changed)
        return job

    return await on_conflict(attempt)


async def record_listing_found(
    repo: Repository, job_id: UUID, directory_id: int, evidence: Evidence
) -> Backlink:
    """The listing links to the site: a backlink is discovered and the task verified."""

    async def attempt() -> Backlink:
        job = await repo.get(job_id, Job)
        backlink = Backlink(
            account_id=job.account_id,
            site_id=job.site_id,
            directory_id=directory_id,
            job_id=job.id,
            evidence=evidence,
        )
        job.record_verified(directory_id, backlink.id)
        await repo.save(job, backlink)
        return backlink

    return await on_conflict(attempt)


async def record_listing_not_found(
    repo: Repository, job_id: UUID, directory_id: int, details: str
) -> Job:
    async def attempt() -> Job:
        job = await repo.get(job_id, Job)
        job.record_listing_not_found(directory_id, details)
        await repo.save(job)
        return job

    return await on_conflict(attempt)


async def record_recheck(repo: Repository, backlink_id: UUID, evidence: Evidence) -> Backlink:
    async def attempt() -> Backlink:
        backlink = await repo.get(backlink_id, Backlink)
        backlink.record_check(evidence)
        await repo.save(backlink)
        return backlink

    return await on_conflict(attempt)
