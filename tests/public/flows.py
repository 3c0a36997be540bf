"""Jobs driven to their outcomes through the application services, as the workers do:
submitted and verified against the demo catalogue's listing URLs, failed, or lost later."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain import ids
from domain.backlink import LOST, Backlink, Evidence
from domain.services.delivery import Failed, Submitted, begin_submission, record_outcome
from domain.services.monitoring import record_recheck
from domain.services.verification import record_listing_found
from domain.site import SiteFacts
from projections.runner import wait_for
from tests.core.client import Client
from tests.public.conftest import DEMO

BY_ID = {d.id: d for d in DEMO}


async def deliver(
    api: Any,
    infra: Any,
    client: Client,
    site: dict[str, Any],
    directory_ids: list[int],
    *,
    failed: tuple[int, ...] = (),
    lost: tuple[int, ...] = (),
    anchor: str | None = None,
) -> dict[int, str]:
    """One job for `site` over `directory_ids`: each task submitted and its listing
    verified (a backlink with the demo listing URL as evidence), except `failed` ones
    (refused by the directory); `lost` backlinks are re-checked without the link. The
    public backlink ids, by directory."""
    job = await client.job(site["id"], directory_ids)
    job_id = ids.decode("job", job["id"])
    repo = infra.repository
    facts = SiteFacts(url=site["url"], domain=site["domain"], name=site["name"])
    found: dict[int, str] = {}
    for d in directory_ids:
        await begin_submission(repo, job_id, d)
        if d in failed:
            await record_outcome(repo, job_id, d, Failed("rejected", "The directory said no."))
            continue
        listing = BY_ID[d].listing_url(facts)
        await record_outcome(repo, job_id, d, Submitted(listing))
        nofollow = BY_ID[d].link_type == "nofollow"
        evidence = Evidence(
            source_url=listing,
            has_link=True,
            target_url=site["url"],
            anchor_text=site["name"] if anchor is None else anchor,
            link_type="nofollow" if nofollow else "dofollow",
            rel_attributes=["nofollow"] if nofollow else [],
            http_status=200,
            indexable=True,
        )
        backlink = await record_listing_found(repo, job_id, d, evidence)
        found[d] = ids.encode("bl", backlink.id)
        if d in lost:
            await lose(repo, backlink.id, listing)
    await settled(api, infra)
    return found


async def lose(repo: Any, backlink_id: UUID, listing: str, http_status: int = 200) -> None:
    """Re-check the listing without the link until the backlink is lost (one miss or two
    in a row, whichever the monitoring rule asks for)."""
    gone = Evidence(listing, has_link=False, http_status=http_status, indexable=False)
    for _ in range(3):
        await record_recheck(repo, backlink_id, gone)
        if (await repo.get(backlink_id, Backlink)).status == LOST:
            return
    raise AssertionError(f"backlink {backlink_id} still not lost after 3 checks")


async def settled(api: Any, infra: Any) -> None:
    """What the services wrote is in the read models."""
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, api.app.state.projections, latest, timeout=60)


async def choose(infra: Any, backlink_id: str, note: str | None = None) -> str:
    """The operator adds a delivery example (as `backlynk examples add` does): its id."""
    from adapters.directories import PostgresDirectoryCatalogue
    from domain.ports import ShowcasePorts
    from domain.services.showcase import add_example
    from projections.showcase import PostgresExampleChoices

    ports = ShowcasePorts(
        repository=infra.repository,
        choices=PostgresExampleChoices(infra.pool),
        catalogue=PostgresDirectoryCatalogue(infra.pool),
        clock=infra.clock,
    )
    choice = await add_example(ports, ids.decode("bl", backlink_id), note, "test@operator")
    return ids.encode("ex", choice.id)
