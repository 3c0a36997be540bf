"""Rows of the read models as they stood at an instant, folded from an aggregate's history
(`Repository.history`): what `GET /sites/{id}` and `GET /jobs/{id}` showed then.

The aggregate folded up to the instant gives the state; its events give the instants the
projections record and the aggregate does not keep: when a site's details last changed
(a directory claimed for a job is no change its reader sees), when a job started and
finished, when each of its tasks last moved. So a row here is the read-your-writes row
(`site_row`, `job_row`) with those instants put right, as `SitesProjection` and
`JobsProjection` set them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.utils import get_topic
from msgspec.structs import replace

from domain.job import Job
from domain.site import Site
from projections.jobs import JobRow, JobsProjection, job_row, task_row
from projections.sites import SiteRow, SitesProjection, site_row


def _last_seen(history: Sequence[Any], topics: Sequence[str]) -> datetime:
    """The instant of the last event the read model applied (each one sets its
    `updated_at`)."""
    return next(e.timestamp for e in reversed(history) if get_topic(type(e)) in topics)


def site_row_at(site: Site, history: Sequence[Any]) -> SiteRow:
    """`site` (folded from `history`) as the `sites` read model held it."""
    return replace(site_row(site), updated_at=_last_seen(history, SitesProjection.topics))


def job_row_at(job: Job, history: Sequence[Any]) -> JobRow:
    """`job` (folded from `history`) as the `jobs` and `job_tasks` read models held it."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    moved: dict[int, datetime] = {}  # directory id -> its task's last change
    for event in history:
        at = event.timestamp
        if isinstance(event, Job.Created):
            moved = dict.fromkeys((t.directory_id for t in event.tasks), at)
        elif isinstance(event, Job.Started):
            started_at = at
        elif isinstance(event, Job.Finished):
            finished_at = at
        elif isinstance(event, Job.Canceled | Job.CancelRequested):
            moved.update(dict.fromkeys(event.directory_ids, at))
            if isinstance(event, Job.Canceled):  # nothing was in flight: finished at once
                finished_at = finished_at or at
        elif hasattr(event, "directory_id"):  # a task's own event
            moved[event.directory_id] = at
    return replace(
        job_row(job),
        updated_at=_last_seen(history, JobsProjection.topics),
        started_at=started_at,
        finished_at=finished_at,
        tasks=[task_row(t, i, moved[t.directory_id]) for i, t in enumerate(job.tasks)],
    )
