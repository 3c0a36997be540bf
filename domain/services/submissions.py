"""Use cases of the workers: run a job's tasks, record what each submission did, verify
listings and re-check backlinks. Each changes the job together with what must change
with it (quota, site claims, backlink) in one atomic save."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from domain.account import Account
from domain.backlink import Backlink, Evidence, evidence_of
from domain.backlink_evidence import judge
from domain.directory import Directory
from domain.job import (
    CANCELED,
    FAILED,
    JOB_CANCELED,
    PENDING,
    SUBMITTED,
    SUBMITTING,
    Job,
    TaskStateConflict,
)
from domain.ports import (
    Clock,
    DirectoryCatalogue,
    DirectorySubmitter,
    HostGate,
    PageInspector,
    Repository,
)
from domain.services.jobs import load_quota
from domain.services.retry import change, on_conflict
from domain.site import Site, SiteFacts
from domain.verification import next_look


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
            if job.task(directory_id).status in (FAILED, CANCELED):
                quota = await load_quota(repo, job.account_id, job.period)
                quota.release(job.id)
                site = await repo.get(job.site_id, Site)
                site.unclaim(job.id, [directory_id])  # a later job may try it again
                changed += [quota, site]
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
    return await change(
        repo, Job, job_id, lambda job: job.record_listing_not_found(directory_id, details)
    )


async def record_recheck(repo: Repository, backlink_id: UUID, evidence: Evidence) -> Backlink:
    return await change(repo, Backlink, backlink_id, lambda b: b.record_check(evidence))


# -- the workers' flows ---------------------------------------------------------------

MAX_ATTEMPTS = 3
#: failures after which the request may still have reached the directory (a 5xx or a
#: refused connection says it did not; a timeout or a dead worker leaves it open)
UNCERTAIN = frozenset({"timeout", "interrupted"})


@dataclass(frozen=True)
class Delivery:
    """Everything a worker needs to deliver tasks, wired once per process."""

    repo: Repository
    catalogue: DirectoryCatalogue
    submitter: DirectorySubmitter
    inspector: PageInspector
    gate: HostGate
    clock: Clock
    max_attempts: int = MAX_ATTEMPTS


async def _context(
    d: Delivery, job: Job, directory_id: int
) -> tuple[Directory | None, SiteFacts, str]:
    found = await d.catalogue.by_ids([directory_id])
    site = await d.repo.get(job.site_id, Site)
    account = await d.repo.get(job.account_id, Account)
    return found.get(directory_id), site.facts(account.email), site.domain.removeprefix("www.")


async def look_for_listing(d: Delivery, url: str, domain: str) -> Evidence:
    """Fetch a listing page with the backlink checker and read the link to `domain`."""
    inspection = await d.inspector.inspect(url)
    return evidence_of(judge(inspection, domain, d.clock.now()))


async def run_job(d: Delivery, job_id: UUID) -> list[tuple[int, int]]:
    """Start the job; return (directory id, attempts so far) of every task that still
    needs a worker."""
    job = await start_job(d.repo, job_id)
    if job.status == JOB_CANCELED:
        return []
    return [(t.directory_id, t.attempts) for t in job.tasks if t.status in (PENDING, SUBMITTING)]


async def deliver(d: Delivery, job_id: UUID, directory_id: int) -> str:
    """Submit one task, exactly once. The task is marked `submitting` before the request;
    if a worker finds it still `submitting` (its predecessor died mid-request), or the
    last attempt timed out, it first looks for the listing and does not submit again when
    the earlier attempt may have landed. Returns what happened, for logs."""
    job = await d.repo.get(job_id, Job)
    task = job.task(directory_id)
    if task.status not in (PENDING, SUBMITTING):
        return f"nothing to do: task is {task.status}"
    directory, site, domain = await _context(d, job, directory_id)
    if directory is None or not directory.is_active:
        why = "left the catalogue" if directory is None else "is paused"
        await _settle(
            d, job_id, directory_id, Failed("directory_unavailable", f"The directory {why}.")
        )
        return f"directory {why}"
    uncertain = task.error is not None and task.error.code in UNCERTAIN
    if task.status == SUBMITTING or uncertain:
        landed = await _landed(d, directory, site, domain)
        if landed is not None:
            await _settle(d, job_id, directory_id, landed)
            return "an earlier attempt had landed"
        if task.status == SUBMITTING:
            # proven absent: put it back to pending (and retry below, now) — or, when
            # the job is being canceled meanwhile, canceled
            job = await record_outcome(
                d.repo,
                job_id,
                directory_id,
                RetryLater("interrupted", "The worker stopped mid-submission."),
            )
            if job.task(directory_id).status != PENDING:
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
    if url is None or directory.turnaround_days > 0:
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


async def verify(d: Delivery, job_id: UUID, directory_id: int, attempt: int) -> timedelta | None:
    """Look for the listing once; return when to look again, or None when settled."""
    job = await d.repo.get(job_id, Job)
    task = job.task(directory_id)
    if task.status != SUBMITTED:
        return None
    directory, site, domain = await _context(d, job, directory_id)
    url = task.listing_url or (directory.listing_url(site) if directory else None)
    if url is None:
        await record_listing_not_found(
            d.repo, job_id, directory_id, "The directory gave no listing URL to check."
        )
        return None
    evidence = await look_for_listing(d, url, domain)
    if evidence.has_link:
        await record_listing_found(d.repo, job_id, directory_id, evidence)
        return None
    delay = next_look(directory.turnaround_days if directory else 0, attempt)
    if delay is None:
        await record_listing_not_found(
            d.repo,
            job_id,
            directory_id,
            f"No link to {domain} on {url} within 14 days of the submission.",
        )
    return delay


async def recheck(d: Delivery, backlink_id: UUID) -> Backlink:
    backlink = await d.repo.get(backlink_id, Backlink)
    site = await d.repo.get(backlink.site_id, Site)
    evidence = await look_for_listing(
        d, backlink.evidence.source_url, site.domain.removeprefix("www.")
    )
    return await record_recheck(d.repo, backlink_id, evidence)


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
