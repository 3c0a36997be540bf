"""`GET /api/v1/directories`: the catalogue as a customer may see it — within the plan's
DR cap, and never how to submit (form URL, field map)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from adapters.directories import PostgresDirectoryCatalogue
from api.auth import require_api_access
from api.errors import ApiError
from api.pagination import Int32Key, int_param, page_request, paginate
from api.rendering import json_response
from domain.directory import Directory


class DirectoryOut(msgspec.Struct):
    id: int
    name: str
    homepage_url: str
    domain_rating: int
    category: str
    link_type: str
    submission_method: str
    turnaround_days: int
    status: str


def render(d: Directory) -> DirectoryOut:
    return DirectoryOut(
        d.id,
        d.name,
        d.homepage_url,
        d.domain_rating,
        d.category,
        d.link_type,
        d.submission_method,
        d.turnaround_days,
        d.status,
    )


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    page = page_request(request, Int32Key)
    q = request.query_params.get("q") or None
    if q is not None and len(q) > 100:
        raise ApiError(422, "validation_failed", "q is at most 100 characters.", field="q")
    found = await PostgresDirectoryCatalogue(request.app.state.infra.read_pool).search(
        dr_cap=principal.plan.dr_cap,
        category=request.query_params.get("category") or None,
        min_dr=int_param(request, "min_dr", 0, 100),
        max_dr=int_param(request, "max_dr", 0, 100),
        q=q,
        after_id=page.after,
        limit=page.fetch,
    )
    return json_response(paginate(found, page, key=lambda d: d.id, render=render))
