"""Driving jobs to outcomes through the application services (as the workers do), for the
report tests: each task of a job submitted, failed, verified, lost, recovered..."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from domain.backlink import Backlink, Evidence
from domain.job import Job
from domain.services.delivery import Failed, RetryLater, Submitted, begin_submission
from domain.services.delivery import record_outcome as record
from domain.services.monitoring import record_recheck
from domain.services.verification import record_listing_found, record_listing_not_found


def evidence(has_link: bool = True, link_type: str | None = "dofollow") -> Evidence:
    return Evidence(
        source_url="https://directory.example/listing",
        has_link=has_link,
        target_url="https://site.example/" if has_link else None,
        anchor_text="Site" if has_link else None,
        link_type=link_type if has_link else None,
        http_status=200,
        indexable=has_link,
    )


async def submit(repo: Any, job_id: UUID, directory_id: int) -> None:
    await begin_submission(repo, job_id, directory_id)
    await record(repo, job_id, directory_id, Submitted(f"https://d{directory_id}.example/l"))


async def fail(repo: Any, job_id: UUID, directory_id: int, code: str = "rejected") -> None:
    await begin_submission(repo, job_id, directory_id)
    await record(repo, job_id, directory_id, Failed(code, "The directory said no."))


async def retry(repo: Any, job_id: UUID, directory_id: int) -> None:
    await begin_submission(repo, job_id, directory_id)
    await record(repo, job_id, directory_id, RetryLater("timeout", "No answer."))


async def verify(repo: Any, job_id: UUID, directory_id: int, link_type: str = "dofollow") -> UUID:
    """The listing is found: returns the backlink's id."""
    backlink = await record_listing_found(repo, job_id, directory_id, evidence(link_type=link_type))
    return backlink.id


async def not_found(repo: Any, job_id: UUID, directory_id: int) -> None:
    await record_listing_not_found(repo, job_id, directory_id, "Never listed.")


async def lose(repo: Any, backlink_id: UUID) -> None:
    """Re-check with the link gone until the backlink is lost (monitoring may ask for
    more than one failed check)."""
    for _ in range(5):
        if (await record_recheck(repo, backlink_id, evidence(has_link=False))).status == "lost":
            return
    raise AssertionError("five failed checks did not lose the backlink")


async def recover(repo: Any, backlink_id: UUID, link_type: str = "dofollow") -> None:
    await record_recheck(repo, backlink_id, evidence(link_type=link_type))


async def task_status(repo: Any, job_id: UUID, directory_id: int) -> str:
    return (await repo.get(job_id, Job)).task(directory_id).status


async def add_by_hand(repo: Any, account_id: UUID, site_id: UUID, page_url: str) -> UUID:
    """A link the customer already has, added to monitoring (`pending`, no directory, no
    job), as `POST /backlinks` saves it: returns the backlink's id."""
    backlink = Backlink.add(account_id, site_id, page_url)
    await repo.save(backlink)
    return backlink.id


#: the evidence of a check with each outcome (unreachable: the page answered 500)
CHECKS = {
    "found": evidence(),
    "missing": evidence(has_link=False),
    "unreachable": msgspec.structs.replace(evidence(has_link=False), http_status=500),
}


async def check(repo: Any, backlink_id: UUID, outcome: str) -> str:
    """One re-check with `outcome`: the backlink's status after it."""
    return (await record_recheck(repo, backlink_id, CHECKS[outcome])).status
