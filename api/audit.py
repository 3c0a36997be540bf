"""`GET /api/v1/audit`: every event of the caller's account, in commit order, with its
cause — as JSON (one page) or CSV (`Accept: text/csv` or `?format=csv`: every entry that
matches the filters, streamed). Read from the `audit` read model (`projections.audit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.causes import CauseOut, render_cause
from api.csv_export import cell, csv_stream, every_row, wants_csv
from api.errors import ApiError
from api.jobs import PUBLIC_IDS
from api.pagination import paginate
from api.queries import AuditQuery, page_of, query_of
from api.rendering import json_response
from domain import ids
from projections.audit import EVENT_TYPES, AuditFilters, AuditRow, list_audit

#: the public id prefix of each audited aggregate, by the first part of the event type
AGGREGATE_PREFIXES = {
    "Account": "usr",
    "AuthSession": "ses",
    "ApiKey": "key",
    "Site": "site",
    "Job": "job",
    "Quota": "quota",
    "Backlink": "bl",
    "Webhook": "whk",
}
#: ids an event's summary may hold, in their public form
SUMMARY_IDS = {**PUBLIC_IDS, "key_id": "key", "delivery_id": "dlv"}


class AuditEntryOut(msgspec.Struct):
    #: the event's place in the store's commit order
    position: int
    type: str
    #: the aggregate the event belongs to (`job_…`, `site_…`, `key_…`, `ses_…`, `usr_…`)
    aggregate_id: str
    aggregate_version: int
    at: datetime
    cause: CauseOut | None
    #: the event's own small values (no secret, no hash; long ones left out)
    summary: dict[str, Any]


def _public_summary(summary: dict[str, Any]) -> dict[str, Any]:
    out = dict(summary)
    for key, prefix in SUMMARY_IDS.items():
        value = out.get(key)
        if isinstance(value, str):
            try:
                out[key] = ids.encode(prefix, UUID(value))
            except ValueError:
                pass
    return out


def render(row: AuditRow) -> AuditEntryOut:
    prefix = AGGREGATE_PREFIXES[row.type.partition(".")[0]]
    return AuditEntryOut(
        position=row.position,
        type=row.type,
        aggregate_id=ids.encode(prefix, row.aggregate_id),
        aggregate_version=row.aggregate_version,
        at=row.occurred_at,
        cause=render_cause(row.cause),
        summary=_public_summary(row.summary),
    )


CSV_FIELDS = [
    "position",
    "type",
    "aggregate_id",
    "aggregate_version",
    "at",
    "cause_kind",
    "cause_name",
    "request_id",
    "account_id",
    "credential_type",
    "credential_id",
    "identified_by",
    "summary",
]


def csv_row(entry: AuditEntryOut) -> list[str]:
    cause = entry.cause
    credential = cause.credential if cause else None
    return [
        cell(v)
        for v in (
            entry.position,
            entry.type,
            entry.aggregate_id,
            entry.aggregate_version,
            entry.at,
            cause.kind if cause else None,
            cause.name if cause else None,
            cause.request_id if cause else None,
            cause.account_id if cause else None,
            credential.type if credential else None,
            credential.id if credential else None,
            cause.identified_by if cause else None,
            msgspec.json.encode(entry.summary).decode(),
        )
    ]


def _filters(account_id: UUID, query: AuditQuery) -> AuditFilters:
    types: tuple[str, ...] = ()
    if query.type is not None:
        types = tuple(t.strip() for t in query.type.split(",") if t.strip())
        unknown = [t for t in types if t not in EVENT_TYPES]
        if unknown:
            raise ApiError(
                422,
                "validation_failed",
                f"Unknown event type {unknown[0]!r}; the types are listed in the API docs.",
                field="type",
            )
    if query.since is not None and query.until is not None and query.since > query.until:
        raise ApiError(422, "validation_failed", "from must not be after to.", field="from")
    return AuditFilters(account_id, types, query.since, query.until)


async def _rows(pool: Any, f: AuditFilters, *, limit: int, after: int | None) -> list[AuditRow]:
    async with pool.acquire() as conn:
        return await list_audit(conn, f, limit=limit, after=after)


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, AuditQuery)
    page = page_of(query)
    filters = _filters(principal.account_id, query)
    pool = request.app.state.infra.read_pool
    if wants_csv(request):
        # an export is whole: `limit` and `cursor` page the JSON list only
        export = every_row(
            lambda limit, after: _rows(pool, filters, limit=limit, after=after),
            lambda row: row.position,
            lambda row: csv_row(render(row)),
        )
        return csv_stream(CSV_FIELDS, export, filename="audit.csv")
    rows = await _rows(pool, filters, limit=page.fetch, after=page.after)
    return json_response(paginate(rows, page, key=lambda r: r.position, render=render))
