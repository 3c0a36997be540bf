"""Use cases of verification: look for a submitted task's listing on the schedule of
`domain.task_schedule`; a link to the site makes a backlink and the task `verified`, the
last look without one fails the task with `listing_not_found`."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple
from uuid import UUID

from domain.backlink import Backlink, Evidence
from domain.job import Job, TaskStatus
from domain.ports import Repository
from domain.services.delivery import Delivery, look_for_listing, task_context
from domain.services.retry import change, on_conflict
from domain.task_schedule import gave_up, next_look


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
    return await change(
        repo, Job, job_id, lambda job: job.record_listing_not_found(directory_id, details)
    )


class Look(NamedTuple):
    """What one look settled (`outcome`: verified, not_yet, listing_not_found or
    nothing_to_do) and, when not settled, when to look again."""

    outcome: str
    again_in: timedelta | None = None


async def verify(d: Delivery, job_id: UUID, directory_id: int, attempt: int) -> Look:
    """Look for the listing once; `again_in` is None when the task is settled."""
    job = await d.repo.get(job_id, Job)
    task = job.task(directory_id)
    if task.status != TaskStatus.SUBMITTED:
        return Look("nothing_to_do")
    directory, site, domain = await task_context(d, job, directory_id)
    url = task.listing_url or (directory.listing_url(site) if directory else None)
    if url is None:
        await record_listing_not_found(
            d.repo, job_id, directory_id, "The directory gave no listing URL to check."
        )
        return Look("listing_not_found")
    evidence = await look_for_listing(d, url, domain)
    if evidence.has_link:
        await record_listing_found(d.repo, job_id, directory_id, evidence)
        return Look("verified")
    delay = next_look(directory.turnaround_days if directory else 0, attempt)
    if delay is None:
        await record_listing_not_found(d.repo, job_id, directory_id, gave_up(domain, url))
        return Look("listing_not_found")
    return Look("not_yet", delay)
