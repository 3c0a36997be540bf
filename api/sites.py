"""`/api/v1/sites`: register, list, read, update and archive sites."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.bodies import read_json
from api.consistency import settle
from api.errors import ApiError
from api.pagination import paginate
from api.queries import SitesQuery, page_of, query_of
from api.rendering import json_response
from domain import ids
from domain.services import sites
from domain.site import Site, site_not_found
from projections.sites import SiteRow, get_site, list_sites

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Keywords = Annotated[list[Keyword], msgspec.Meta(max_length=50)]
Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class CreateSiteIn(msgspec.Struct):
    url: Annotated[str, msgspec.Meta(max_length=2048)]
    name: Name
    description: Description | None = None
    category: Category | None = None
    keywords: Keywords = []
    contact_email: Email | None = None


class UpdateSiteIn(msgspec.Struct):
    """Absent fields stay as they are; `null` clears an optional one."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    category: Category | msgspec.UnsetType | None = msgspec.UNSET
    keywords: Keywords | msgspec.UnsetType = msgspec.UNSET
    contact_email: Email | msgspec.UnsetType | None = msgspec.UNSET
    url: str | msgspec.UnsetType = msgspec.UNSET


class SiteOut(msgspec.Struct):
    id: str
    url: str
    domain: str
    name: str
    description: str | None
    category: str | None
    keywords: list[str]
    contact_email: str | None
    status: str
    created_at: datetime
    updated_at: datetime


def render(row: SiteRow) -> SiteOut:
    return SiteOut(
        ids.encode("site", row.id),
        row.url,
        row.domain,
        row.name,
        row.description,
        row.category,
        row.keywords,
        row.contact_email,
        row.status,
        row.created_at,
        row.updated_at,
    )


def site_id_of(request: Request) -> UUID:
    site_id = ids.decode("site", request.path_params["site_id"])
    if site_id is None:
        raise site_not_found()
    return site_id


async def _read(request: Request, account_id: UUID, site_id: UUID) -> SiteOut:
    async with request.app.state.infra.read_pool.acquire() as conn:
        row = await get_site(conn, account_id, site_id)
    if row is None:
        raise site_not_found()
    return render(row)


def row_of(site: Site) -> SiteRow:
    """The read-model row a just-saved site will have (when the projector lags)."""
    return SiteRow(
        site.id,
        site.url,
        site.domain,
        site.name,
        site.description,
        site.category,
        site.keywords,
        site.contact_email,
        site.status,
        site.created_on,
        site.modified_on,
        0,
    )


async def _after(request: Request, account_id: UUID, site: Site, position: int) -> SiteOut:
    """Read-your-writes: the read model once it shows the command, else the aggregate."""
    if await settle(request, position):
        return await _read(request, account_id, site.id)
    return render(row_of(site))


async def create(request: Request) -> Response:
    principal = await require_api_access(request)
    body = await read_json(request, CreateSiteIn)
    details = sites.SiteDetails(
        name=body.name,
        description=body.description,
        category=body.category,
        keywords=body.keywords,
        contact_email=body.contact_email,
    )
    site, position = await sites.register_site(
        request.app.state.ports.sites,
        account_id=principal.account_id,
        plan=principal.plan,
        url=body.url,
        details=details,
        verify_landing_page=request.app.state.settings.verify_sites,
    )
    return json_response(await _after(request, principal.account_id, site, position), 201)


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    query = query_of(request, SitesQuery)
    page = page_of(query)
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_sites(
            conn, principal.account_id, status=query.status, limit=page.fetch, before=page.after
        )
    return json_response(paginate(rows, page, key=lambda r: r.seq, render=render))


async def show(request: Request) -> Response:
    principal = await require_api_access(request)
    return json_response(await _read(request, principal.account_id, site_id_of(request)))


async def update(request: Request) -> Response:
    principal = await require_api_access(request)
    site_id = site_id_of(request)
    body = await read_json(request, UpdateSiteIn)
    if body.url is not msgspec.UNSET:
        raise ApiError(
            422,
            "validation_failed",
            "A site's URL cannot change; register the new URL as a site and archive this one.",
            field="url",
        )
    changes = {
        k: v
        for k, v in msgspec.structs.asdict(body).items()
        if v is not msgspec.UNSET and k != "url"
    }
    site, position = await sites.update_site(
        request.app.state.ports.sites,
        account_id=principal.account_id,
        site_id=site_id,
        changes=changes,
    )
    return json_response(await _after(request, principal.account_id, site, position))


async def archive(request: Request) -> Response:
    principal = await require_api_access(request)
    site_id = site_id_of(request)
    site, position = await sites.archive_site(
        request.app.state.ports.sites, account_id=principal.account_id, site_id=site_id
    )
    return json_response(await _after(request, principal.account_id, site, position))
