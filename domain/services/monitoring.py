"""Use cases of monitoring on the workers' side: check a backlink's page and record what
the check saw (the rules that turn checks into `live`, `unreachable` and `lost` are
`domain.backlink`'s). Adding links and asking for a re-check are `monitored_links`'."""

from __future__ import annotations

from uuid import UUID

from domain.backlink import Backlink, Evidence
from domain.ports import Repository
from domain.services.delivery import Delivery, look_for_listing
from domain.services.retry import change
from domain.site import Site


async def record_recheck(repo: Repository, backlink_id: UUID, evidence: Evidence) -> Backlink:
    return await change(repo, Backlink, backlink_id, lambda b: b.record_check(evidence))


async def recheck(d: Delivery, backlink_id: UUID) -> tuple[Backlink, str]:
    """Check the backlink's page once; the backlink and the check's outcome."""
    backlink = await d.repo.get(backlink_id, Backlink)
    site = await d.repo.get(backlink.site_id, Site)
    evidence = await look_for_listing(d, backlink.page_url, site.domain.removeprefix("www."))
    outcomes: list[str] = []
    saved = await change(
        d.repo, Backlink, backlink_id, lambda b: outcomes.append(b.record_check(evidence))
    )
    return saved, outcomes[-1]
