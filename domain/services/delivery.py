"""Use cases of delivery: start a job, submit each of its tasks exactly once, record what
each submission did (with the quota and the site's claims, in one atomic save) and release
what waited too long. Listings are verified in `verification`, backlinks re-checked in
`monitoring`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from domain.account import Account
from domain.backlink import Evidence
from domain.directory import Directory
from domain.job import IN_FLIGHT, Job, JobStatus, TaskStateConflict, TaskStatus
from domain.ports import (
    Clock,
    DirectoryCatalogue,
    DirectorySubmitter,
    HostGate,
    PageInspector,
    Repository,
)
from domain.services.check_backlinks import evidence_at
from domain.services.jobs import load_quota
from domain.services.retry import change, on_conflict
from domain.site import Site, SiteFacts
from domain.task_schedule import MAX_ATTEMPTS, listed_at_once


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
    return await change(repo, Job, job_id, lambda job: job.start())


async def begin_submission(repo: Repository, job_id: UUID, directory_id: int) -> Job:
    """Mark the task submitting (raises TaskStateConflict unless it is pending)."""
    return await change(repo, Job, job_id, lambda job: job.begin_submission(directory_id))


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
        else:
            if isinstance(outcome, Failed):
                job.record_failed(directory_id, outcome.code, outcome.details)
            else:  # back to pending, or canceled when the job is being canceled
                job.retry_later(directory_id, outcome.code, outcome.details)
            if job.task(directory_id).status in (TaskStatus.FAILED, TaskStatus.CANCELED):
                quota = await load_quota(repo, job.account_id, job.period)
                quota.release(job.id)
                site = await repo.get(job.site_id, Site)
                site.unclaim(job.id, [directory_id])  # a later job may try it again
                changed += [quota, site]
        await repo.save(*changed)
        return job

    return await on_conflict(attempt)


# -- the workers' flows ---------------------------------------------------------------

#: failures after which the request may still have reached the directory (a 5xx or a
#: refused connection says it did not; a timeout or a dead worker leaves it open)
UNCERTAIN = frozenset({"timeout", "interrupted"})


@dataclass(frozen=True)
class Delivery:
    """Everything a worker needs to deliver tasks (and to verify listings and re-check
    backlinks, which use the same ports), wired once per process."""

    repo: Repository
    catalogue: DirectoryCatalogue
    submitter: DirectorySubmitter
    inspector: PageInspector
    gate: HostGate
    clock: Clock
    max_attempts: int = MAX_ATTEMPTS


async def task_context(
    d: Delivery, job: Job, directory_id: int
) -> tuple[Directory | None, SiteFacts, str]:
    """The task's directory (None when it left the catalogue), the site as submitted and
    the domain its links point to."""
    found = await d.catalogue.by_ids([directory_id])
    site = await d.repo.get(job.site_id, Site)
    account = await d.repo.get(job.account_id, Account)
    return found.get(directory_id), site.facts(account.email), site.domain.removeprefix("www.")


async def look_for_listing(d: Delivery, url: str, domain: str) -> Evidence:
    """Fetch a listing page with the backlink checker and read the link to `domain`."""
    return await evidence_at(url, domain, inspector=d.inspector, clock=d.clock)


async def run_job(d: Delivery, job_id: UUID) -> list[tuple[int, int]]:
    """Start the job; return (directory id, attempts so far) of every task that still
    needs a worker."""
    job = await start_job(d.repo, job_id)
    if job.status == JobStatus.CANCELED:
        return []
    return [(t.directory_id, t.attempts) for t in job.tasks if t.status in IN_FLIGHT]


async def deliver(d: Delivery, job_id: UUID, directory_id: int) -> str:
    """Submit one task, exactly once. The task is marked `submitting` before the request;
    if a worker finds it still `submitting` (its predecessor died mid-request), or the
    last attempt timed out, it first looks for the listing and does not submit again when
    the earlier attempt may have landed. Returns what happened, for logs."""
    job = await d.repo.get(job_id, Job)
    task = job.task(directory_id)
    if task.status not in IN_FLIGHT:
        return f"nothing to do: task is {task.status}"
    directory, site, domain = await task_context(d, job, directory_id)
    if directory is None or not directory.is_active:
        why = "left the catalogue" if directory is None else "is paused"
        await _settle(
            d, job_id, directory_id, Failed("directory_unavailable", f"The directory {why}.")
        )
        return f"directory {why}"
    uncertain = task.error is not None and task.error.code in UNCERTAIN
    if task.status == TaskStatus.SUBMITTING or uncertain:
        landed = await _landed(d, directory, site, domain)
        if landed is not None:
            await _settle(d, job_id, directory_id, landed)
            return "an earlier attempt had landed"
        if task.status == TaskStatus.SUBMITTING:
            # proven absent: put it back to pending (and retry below, now) — or, when
            # the job is being canceled meanwhile, canceled
            job = await record_outcome(
                d.repo,
                job_id,
                directory_id,
                RetryLater("interrupted", "The worker stopped mid-submission."),
            )
            if job.task(directory_id).status != TaskStatus.PENDING:
                return f"task is {job.task(directory_id).status}"
    async with d.gate.slot(_host(directory.submit_url)):
        try:
            job = await begin_submission(d.repo, job_id, directory_id)
        except TaskStateConflict:
            return "another worker took it"
        outcome = await d.submitter.submit(directory, site)
    attempts = job.task(directory_id).attempts
    if isinstance(outcome, RetryLater) and attempts >= d.max_attempts:
        outcome = Failed(outcome.code, f"{outcome.details} (gave up after {attempts} attempts)")
    elif isinstance(outcome, RetryLater) and outcome.code in UNCERTAIN:
        # no retry follows when the job was canceled meanwhile: settle what may have
        # landed now, or the task is canceled and its site claim given back
        if (await d.repo.get(job_id, Job)).cancel_requested:
            outcome = await _landed(d, directory, site, domain) or outcome
    await _settle(d, job_id, directory_id, outcome)
    return type(outcome).__name__


async def _landed(
    d: Delivery, directory: Directory, site: SiteFacts, domain: str
) -> Outcome | None:
    """Did an earlier attempt land? `Submitted` if the listing shows the link, or if the
    directory gives no way to prove it absent (no listing template, or moderation delays
    the listing) — verification will settle it then; None when proven absent."""
    url = directory.listing_url(site)
    if url is None or not listed_at_once(directory.turnaround_days):
        return Submitted(url)
    evidence = await look_for_listing(d, url, domain)
    return Submitted(url) if evidence.has_link else None


async def _settle(d: Delivery, job_id: UUID, directory_id: int, outcome: Outcome) -> None:
    try:
        await record_outcome(d.repo, job_id, directory_id, outcome)
    except TaskStateConflict:
        pass  # settled meanwhile (a canceled job's task, a duplicate message)


def _host(url: str) -> str:
    """Politeness is per server: host and port."""
    return (urlsplit(url).netloc or url).lower()


async def expire_reservation(
    repo: Repository, job_id: UUID, directory_id: int, days: float
) -> bool:
    """A task still pending after `days` gives its quota unit back: it fails with
    `timeout`. False when it moved on meanwhile."""
    try:
        await record_outcome(
            repo,
            job_id,
            directory_id,
            Failed("timeout", f"Not submitted within {days:g} days; the reservation was released."),
        )
    except TaskStateConflict:
        return False
    return True
