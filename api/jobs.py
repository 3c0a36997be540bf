"""`/api/v1/jobs`: create, list, read, cancel, and a job's audit history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from eventsourcing.utils import resolve_topic
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.bodies import read_json
from api.causes import CauseOut, render_cause
from api.consistency import settle
from api.pagination import paginate
from api.public_ids import field_id, path_id
from api.queries import AsOf, JobsQuery, page_of, page_request, query_of
from api.rendering import json_response
from api.sites import site_filter
from domain import ids
from domain.job import TASK_STATUSES, Job, job_not_found
from domain.services import jobs
from domain.site import site_not_found
from projections.as_of import job_row_at
from projections.jobs import JobRow, TaskRow, get_job, job_row, list_jobs
from projections.views import by_name


class CreateJobIn(msgspec.Struct):
    site_id: str
    directory_ids: list[Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]] | None = None


class TaskErrorOut(msgspec.Struct):
    code: str
    details: str


class TaskOut(msgspec.Struct):
    directory_id: int
    directory_name: str
    status: str
    attempts: int
    listing_url: str | None
    backlink_id: str | None
    error: TaskErrorOut | None
    updated_at: datetime


class Progress(msgspec.Struct):
    total: int
    pending: int
    submitting: int
    submitted: int
    verified: int
    failed: int
    skipped: int
    canceled: int
    percent: int


class JobOut(msgspec.Struct):
    id: str
    site_id: str
    status: str
    progress: Progress
    tasks: list[TaskOut]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def progress(statuses: list[str]) -> Progress:
    counts = {s: statuses.count(s) for s in TASK_STATUSES}
    total = len(statuses)
    settled = total - counts["pending"] - counts["submitting"]
    return Progress(total=total, percent=round(100 * settled / total) if total else 100, **counts)


def render_task(task: TaskRow) -> TaskOut:
    error = (
        TaskErrorOut(code=task.error_code, details=task.error_details or "")
        if task.error_code
        else None
    )
    backlink_id = ids.encode("bl", task.backlink_id) if task.backlink_id else None
    return by_name(TaskOut, task, backlink_id=backlink_id, error=error)


def render(row: JobRow) -> JobOut:
    return by_name(
        JobOut,
        row,
        id=ids.encode("job", row.id),
        site_id=ids.encode("site", row.site_id),
        progress=progress([t.status for t in row.tasks]),
        tasks=[render_task(t) for t in row.tasks],
    )


def job_id_of(request: Request) -> UUID:
    return path_id(request, "job", "job_id", job_not_found)


async def _read(request: Request, account_id: UUID, job_id: UUID) -> JobOut:
    row = await get_job(request.app.state.infra.reads, account_id, job_id)
    if row is None:
        raise job_not_found()
    return render(row)


async def _after(request: Request, account_id: UUID, job: Job, position: int) -> JobOut:
    """Read-your-writes: the read model once it shows the command, else the aggregate."""
    if await settle(request, position):
        return await _read(request, account_id, job.id)
    return render(job_row(job))


async def create(request: Request) -> Response:
    principal = await require_api_access(request)
    body = await read_json(request, CreateJobIn)
    site_id = field_id(body.site_id, "site", "site_id", site_not_found)
    job, position = await jobs.create_job(
        request.app.state.ports.jobs,
        account_id=principal.account_id,
        plan=principal.plan,
        site_id=site_id,
        directory_ids=body.directory_ids,
    )
    return json_response(await _after(request, principal.account_id, job, position), 202)


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, JobsQuery)
    page = page_of(query)
    site_id = await site_filter(request, principal.account_id, query.site_id)
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_jobs(
            conn,
            principal.account_id,
            status=query.status,
            site_id=site_id,
            limit=page.fetch,
            before=page.after,
        )
    return json_response(paginate(rows, page, key=lambda r: r.seq, render=render))


async def show(request: Request) -> Response:
    """The read model's row; with `as_of`, the row it held then, rebuilt from events."""
    principal = await require_api_access(request)
    job_id = job_id_of(request)
    as_of = query_of(request, AsOf).as_of
    if as_of is None:
        return json_response(await _read(request, principal.account_id, job_id))
    job, history = await jobs.job_as_of(
        request.app.state.ports.repository, principal.account_id, job_id, as_of
    )
    return json_response(render(job_row_at(job, history)))


async def cancel(request: Request) -> Response:
    principal = await require_api_access(request)
    job_id = job_id_of(request)
    job, position = await jobs.cancel_job(
        request.app.state.ports.jobs, account_id=principal.account_id, job_id=job_id
    )
    return json_response(await _after(request, principal.account_id, job, position), 202)


class EventOut(msgspec.Struct):
    version: int
    type: str
    at: datetime
    data: dict[str, Any]
    #: who or what caused it; null for events stored before causes were recorded
    cause: CauseOut | None


PUBLIC_IDS = {"account_id": "usr", "site_id": "site", "job_id": "job", "backlink_id": "bl"}


def _public(value: Any, key: str | None = None) -> Any:
    """Event data as a client reads it: aggregate ids in their public form."""
    if isinstance(value, UUID) and key in PUBLIC_IDS:
        return ids.encode(PUBLIC_IDS[key], value)
    if isinstance(value, dict):
        return {k: _public(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v) for v in value]
    if isinstance(value, msgspec.Struct):
        return _public(msgspec.structs.asdict(value))
    return value


async def events(request: Request) -> Response:
    """The job's full history from the event store, in version order."""
    principal = await require_api_access(request)
    job_id = job_id_of(request)
    infra = request.app.state.infra
    await jobs.get_job(infra.repository, principal.account_id, job_id)  # 404 if not theirs
    page = page_request(request)
    stored = await infra.store.read(job_id, gt=page.after, limit=page.fetch)
    mapper = infra.repository.mapper
    out = []
    for s in stored:
        event = mapper.to_domain_event(s)
        state = dict(vars(event))
        for k in ("originator_id", "originator_version", "timestamp", "originator_topic"):
            state.pop(k, None)
        cause = render_cause(state.pop("cause", None))
        name = resolve_topic(s.topic).__qualname__  # "Job.TaskSubmitted"
        out.append(
            (
                s.originator_version,
                EventOut(s.originator_version, name, event.timestamp, _public(state), cause),
            )
        )
    return json_response(paginate(out, page, key=lambda r: r[0], render=lambda r: r[1]))
