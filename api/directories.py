"""`GET /api/v1/directories` and `GET /api/v1/directories/{id}`: the catalogue as a
customer may see it — within the plan's DR cap, and never how to submit (form URL, field
map). Paused directories are shown (with `status: "paused"`), in the list and alone
alike: they are part of the catalogue, only not offered to new jobs."""

from __future__ import annotations

from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from adapters.directories import BY_ID, SORTS, Listed, PostgresDirectoryCatalogue
from api.auth import require_api_access
from api.pagination import paginate
from api.queries import DirectoriesQuery, page_of, query_of
from api.rendering import json_response
from domain.errors import NotFound


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
    created_at: datetime
    updated_at: datetime


def render(row: Listed) -> DirectoryOut:
    d = row.directory
    return DirectoryOut(
        id=d.id,
        name=d.name,
        homepage_url=d.homepage_url,
        domain_rating=d.domain_rating,
        category=d.category,
        link_type=d.link_type,
        submission_method=d.submission_method,
        turnaround_days=d.turnaround_days,
        status=d.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _catalogue(request: Request) -> PostgresDirectoryCatalogue:
    return request.app.state.ports.listings


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, DirectoriesQuery)
    order = SORTS[query.sort] if query.sort else BY_ID
    page = page_of(query, order.cursor_type)
    found = await _catalogue(request).search(
        dr_cap=principal.plan.dr_cap,
        category=query.category,
        min_dr=query.min_dr,
        max_dr=query.max_dr,
        q=query.q,
        sort=order,
        after=page.after,
        limit=page.fetch,
    )
    return json_response(paginate(found, page, key=order.cursor_key, render=render))


def directory_not_found() -> NotFound:
    """An unknown id and one above the plan's cap get this same answer."""
    return NotFound("No directory with this id.")


async def show(request: Request) -> Response:
    principal = await require_api_access(request)
    directory_id: int = request.path_params["directory_id"]  # digits only (the route's :number)
    if directory_id > 2**31 - 1:
        raise directory_not_found()
    found = await _catalogue(request).listed(directory_id, dr_cap=principal.plan.dr_cap)
    if found is None:
        raise directory_not_found()
    return json_response(render(found))
