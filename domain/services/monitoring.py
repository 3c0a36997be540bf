"""Use cases of monitoring: re-check a backlink's listing page; the backlink turns `lost`
when the link goes and `live` when it returns."""

from __future__ import annotations

from uuid import UUID

from domain.backlink import Backlink, Evidence
from domain.ports import Repository
from domain.services.delivery import Delivery, look_for_listing
from domain.services.retry import change
from domain.site import Site


async def record_recheck(repo: Repository, backlink_id: UUID, evidence: Evidence) -> Backlink:
    return await change(repo, Backlink, backlink_id, lambda b: b.record_check(evidence))


async def recheck(d: Delivery, backlink_id: UUID) -> Backlink:
    backlink = await d.repo.get(backlink_id, Backlink)
    site = await d.repo.get(backlink.site_id, Site)
    evidence = await look_for_listing(
        d, backlink.evidence.source_url, site.domain.removeprefix("www.")
    )
    return await record_recheck(d.repo, backlink_id, evidence)
