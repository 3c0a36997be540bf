"""Use cases for jobs: create (reserving quota and claiming directories atomically) and
cancel (releasing both)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.directory import Directory
from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.job import Job, Task, TaskStatus, job_not_found, skipped
from domain.ports import DirectoryCatalogue, JobPorts, PlanLimits, Repository
from domain.quota import Quota, period_of
from domain.services.as_of import owned_as_of
from domain.services.retry import on_conflict
from domain.services.sites import get_site
from domain.site import Site

MAX_DIRECTORY_IDS = 500


class UnknownDirectory(ValidationFailed):
    code = "unknown_directory"


class DirectoryNotInPlan(Forbidden):
    code = "directory_not_in_plan"


class NoEligibleDirectories(ValidationFailed):
    code = "no_eligible_directories"


async def load_quota(repo: Repository, account_id: UUID, period: str) -> Quota:
    try:
        return await repo.get(Quota.create_id(account_id, period), Quota)
    except NotFound:
        return Quota(account_id=account_id, period=period)


async def choose_directories(
    catalogue: DirectoryCatalogue, plan: PlanLimits, requested: Sequence[int] | None
) -> list[Directory]:
    """The directories a job asks for: the explicit list, validated against the catalogue
    and the plan's DR cap, or every active directory within the cap."""
    if requested is None:
        return await catalogue.active_within(plan.dr_cap)
    if not requested:
        raise ValidationFailed(
            "Give at least one directory id, or leave directory_ids out "
            "to use every eligible directory.",
            field="directory_ids",
        )
    if len(requested) > MAX_DIRECTORY_IDS:
        raise ValidationFailed(
            f"At most {MAX_DIRECTORY_IDS} directory ids per job.", field="directory_ids"
        )
    wanted = list(dict.fromkeys(requested))  # duplicates count once, order kept
    found = await catalogue.by_ids(wanted)
    for i, directory_id in enumerate(requested):
        directory = found.get(directory_id)
        if directory is None or not directory.is_active:
            state = "is paused" if directory else "does not exist"
            raise UnknownDirectory(
                f"Directory {directory_id} {state}.", field=f"directory_ids[{i}]"
            )
        if not directory.within(plan.dr_cap):
            raise DirectoryNotInPlan(
                f"Directory {directory_id} has DR {directory.domain_rating}, above your "
                f"plan's cap of {plan.dr_cap}.",
                field=f"directory_ids[{i}]",
            )
    return [found[d] for d in wanted]


async def _site_named_in_request(repo: Repository, account_id: UUID, site_id: UUID) -> Site:
    try:
        return await get_site(repo, account_id, site_id)
    except NotFound as exc:
        raise NotFound(exc.details, field="site_id") from None


async def create_job(
    ports: JobPorts,
    *,
    account_id: UUID,
    plan: PlanLimits,
    site_id: UUID,
    directory_ids: Sequence[int] | None,
) -> tuple[Job, int]:
    """Create a job: one pending task per directory the site is not yet claimed for (the
    others are skipped as already_submitted and cost nothing), with the quota reservation
    and the site's claims in the same atomic save."""
    repo = ports.repository
    await _site_named_in_request(repo, account_id, site_id)  # 404 before anything else
    directories = await choose_directories(ports.catalogue, plan, directory_ids)
    period = period_of(ports.clock.now())

    async def attempt() -> tuple[Job, int]:
        site = await _site_named_in_request(repo, account_id, site_id)
        site.check_is_active()
        fresh = set(site.unclaimed([d.id for d in directories]))
        chosen = directories
        if directory_ids is None:  # "every directory not yet submitted to": no skips
            chosen = [d for d in directories if d.id in fresh]
        tasks = [
            Task(d.id, d.name, TaskStatus.PENDING)
            if d.id in fresh
            else skipped(
                d.id,
                d.name,
                "already_submitted",
                "This site was already submitted to this directory.",
            )
            for d in chosen
        ]
        if not fresh:
            raise NoEligibleDirectories(
                "Every directory asked for was already submitted for this site."
                if directories
                else "No active directory within your plan is available.",
                field="directory_ids" if directory_ids is not None else None,
            )
        quota = await load_quota(repo, account_id, period)
        job = Job(account_id=account_id, site_id=site_id, period=period, tasks=tasks)
        quota.reserve(job.id, len(fresh), plan.monthly_submissions)
        site.claim(job.id, [d for d in job.ids_with_status(TaskStatus.PENDING)])
        return job, await repo.save(job, quota, site)

    return await on_conflict(attempt)


async def get_job(repo: Repository, account_id: UUID, job_id: UUID) -> Job:
    try:
        job = await repo.get(job_id, Job)
    except NotFound:
        raise job_not_found() from None
    job.check_belongs_to(account_id)
    return job


async def job_as_of(
    repo: Repository, account_id: UUID, job_id: UUID, instant: datetime
) -> tuple[Job, list[Any]]:
    """The job as it stood at `instant`, and its events up to then."""
    return await owned_as_of(repo, Job, job_id, account_id, instant, job_not_found)


async def cancel_job(ports: JobPorts, *, account_id: UUID, job_id: UUID) -> tuple[Job, int]:
    """Cancel pending tasks; release their quota and give their directories back."""
    repo = ports.repository

    async def attempt() -> tuple[Job, int]:
        job = await get_job(repo, account_id, job_id)
        canceled = job.cancel()
        changed = [job]
        if canceled:
            quota = await load_quota(repo, job.account_id, job.period)
            quota.release(job.id, len(canceled))
            site = await get_site(repo, account_id, job.site_id)
            site.unclaim(job.id, canceled)
            changed += [quota, site]
        return job, await repo.save(*changed)

    return await on_conflict(attempt)
