"""How the dashboard shows the API's objects: jobs with their progress and site, tasks
with their evidence. The figures are the API's own (`api.jobs.render`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from api.jobs import JobOut
from api.jobs import render as render_job
from domain import ids
from domain.job import FINISHED
from projections.jobs import JobRow


class JobSummary(msgspec.Struct):
    job: JobOut
    site_name: str
    href: str
    finished: bool


async def site_names(conn: Any, account_id: UUID) -> dict[str, str]:
    """Every site of the account (a plan allows at most a hundred), public id -> name."""
    rows = await conn.fetch("SELECT id, name FROM sites WHERE account_id = $1", account_id)
    return {ids.encode("site", r["id"]): r["name"] for r in rows}


def job_summary(row: JobRow, names: dict[str, str]) -> JobSummary:
    job = render_job(row)
    return JobSummary(
        job=job,
        site_name=names.get(job.site_id, job.site_id),
        href=f"/dashboard/jobs/{job.id}",
        finished=job.status in FINISHED,
    )


def job_summaries(rows: list[JobRow], names: dict[str, str]) -> list[JobSummary]:
    return [job_summary(r, names) for r in rows]
