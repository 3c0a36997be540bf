"""`/api/v1/sites`: register, list, read, update and archive sites."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.bodies import read_json, worded_pattern
from api.consistency import settle
from api.pagination import paginate
from api.public_ids import path_id
from api.queries import AsOf, SitesQuery, page_of, query_of
from api.rendering import json_response
from domain import ids
from domain.errors import NotFound
from domain.services import sites
from domain.site import Site, SiteDetails, site_not_found
from projections.as_of import site_row_at
from projections.sites import SiteView, get_site, list_sites, site_row
from projections.views import by_name

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Keywords = Annotated[list[Keyword], msgspec.Meta(max_length=50)]
Email = Annotated[
    str,
    worded_pattern(
        r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        "an email address such as you@example.com",
        max_length=254,
    ),
]


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


# the read model's view with the site's public id (a docstring would enter the OpenAPI schema)
class SiteOut(SiteView):
    id: str  # keeps its place first


def render(row: SiteView) -> SiteOut:
    return by_name(SiteOut, row, id=ids.encode("site", row.id))


def site_id_of(request: Request) -> UUID:
    return path_id(request, "site", "site_id", site_not_found)


async def site_filter(request: Request, account_id: UUID, public_id: str | None) -> UUID | None:
    """The site a list's `site_id` filter names (None without one); NotFound on that
    field unless it is one of the account's sites."""
    if public_id is None:
        return None
    site_id = ids.decode("site", public_id)
    async with request.app.state.infra.read_pool.acquire() as conn:
        owned = site_id is not None and await conn.fetchval(
            "SELECT 1 FROM sites WHERE id = $1 AND account_id = $2", site_id, account_id
        )
    if not owned:
        raise NotFound(site_not_found().details, field="site_id")
    return site_id


async def _read(request: Request, account_id: UUID, site_id: UUID) -> SiteOut:
    async with request.app.state.infra.read_pool.acquire() as conn:
        row = await get_site(conn, account_id, site_id)
    if row is None:
        raise site_not_found()
    return render(row)


async def _after(request: Request, account_id: UUID, site: Site, position: int) -> SiteOut:
    """Read-your-writes: the read model once it shows the command, else the aggregate."""
    if await settle(request, position):
        return await _read(request, account_id, site.id)
    return render(site_row(site))


async def create(request: Request) -> Response:
    principal = await require_api_access(request)
    body = await read_json(request, CreateSiteIn)
    details = msgspec.convert(body, SiteDetails, from_attributes=True)
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
    # one query: the pool's own fetch, no connection proxy to build
    rows = await list_sites(
        request.app.state.infra.reads,
        principal.account_id,
        status=query.status,
        limit=page.fetch,
        before=page.after,
    )
    return json_response(paginate(rows, page, key=lambda r: r.seq, render=render))


async def show(request: Request) -> Response:
    """The read model's row; with `as_of`, the row it held then, rebuilt from events."""
    principal = await require_api_access(request)
    site_id = site_id_of(request)
    as_of = query_of(request, AsOf).as_of
    if as_of is None:
        return json_response(await _read(request, principal.account_id, site_id))
    site, history = await sites.site_as_of(
        request.app.state.ports.repository, principal.account_id, site_id, as_of
    )
    return json_response(render(site_row_at(site, history)))


async def update(request: Request) -> Response:
    principal = await require_api_access(request)
    site_id = site_id_of(request)
    body = await read_json(request, UpdateSiteIn)
    # what the body sets (absent fields are UNSET); the domain judges what may change
    changes = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}
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
