"""Use cases for sites: register, update, archive, and read one as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.errors import NotFound
from domain.ports import PlanLimits, Repository, SitePorts
from domain.services.as_of import owned_as_of
from domain.services.retry import on_conflict
from domain.site import (
    InvalidSiteUrl,
    Site,
    SiteDetails,
    SiteRegistry,
    check_changes,
    site_not_found,
)


async def _registry(repo: Repository, account_id: UUID) -> SiteRegistry:
    try:
        return await repo.get(SiteRegistry.create_id(account_id), SiteRegistry)
    except NotFound:
        return SiteRegistry(account_id=account_id)


async def register_site(
    ports: SitePorts,
    *,
    account_id: UUID,
    plan: PlanLimits,
    url: str,
    details: SiteDetails,
    verify_landing_page: bool,
) -> tuple[Site, int]:
    """Returns the new site and the notification id of its events."""
    repo, urls = ports.repository, ports.urls
    normalised, host = urls.normalise(url)
    registry = await _registry(repo, account_id)
    # fail fast on a duplicate or the limit before fetching anything
    registry.check_can_admit(normalised, plan.max_sites)
    if verify_landing_page:
        problem = await urls.landing_page_problem(normalised)
        if problem:
            raise InvalidSiteUrl(problem, field="url")

    async def attempt() -> tuple[Site, int]:
        reg = await _registry(repo, account_id)
        site = Site(
            account_id=account_id,
            url=normalised,
            domain=host,
            **msgspec.structs.asdict(details),
        )
        reg.admit(normalised, site.id, plan.max_sites)
        return site, await repo.save(site, reg)

    return await on_conflict(attempt)


async def get_site(repo: Repository, account_id: UUID, site_id: UUID) -> Site:
    try:
        site = await repo.get(site_id, Site)
    except NotFound:
        raise site_not_found() from None
    site.check_belongs_to(account_id)
    return site


async def site_as_of(
    repo: Repository, account_id: UUID, site_id: UUID, instant: datetime
) -> tuple[Site, list[Any]]:
    """The site as it stood at `instant`, and its events up to then."""
    return await owned_as_of(repo, Site, site_id, account_id, instant, site_not_found)


async def update_site(
    ports: SitePorts, *, account_id: UUID, site_id: UUID, changes: dict[str, object]
) -> tuple[Site, int]:
    """`changes`: the fields to change, by name; a URL or an unknown field is refused
    before the site is read."""
    check_changes(changes)
    repo = ports.repository

    async def attempt() -> tuple[Site, int]:
        site = await get_site(repo, account_id, site_id)
        site.update(changes)
        return site, await repo.save(site)

    return await on_conflict(attempt)


async def archive_site(ports: SitePorts, *, account_id: UUID, site_id: UUID) -> tuple[Site, int]:
    """Archive the site and free its URL in the account (it can be registered again)."""
    repo = ports.repository

    async def attempt() -> tuple[Site, int]:
        site = await get_site(repo, account_id, site_id)
        registry = await _registry(repo, account_id)
        site.archive()
        registry.remove(site.url, site.id)
        return site, await repo.save(site, registry)

    return await on_conflict(attempt)
