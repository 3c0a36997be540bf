"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from adapters.site_urls import normalise_site_url
from domain.services import sites

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Limits:
    monthly_submissions: int = 150
    dr_cap: int | None = 50
    max_sites: int = 10


class Urls:
    """The real URL rules; the landing-page fetch is covered by the site API tests."""

    def normalise(self, url: str) -> tuple[str, str]:
        return normalise_site_url(url)

    async def landing_page_problem(self, url: str) -> str | None:
        return None


def catalogue_json(n: int, paused: tuple[int, ...] = (), dr: dict[int, int] | None = None):
    return msgspec.json.encode(
        [
            {
                "id": i,
                "name": f"Dir {i}",
                "homepage_url": f"https://dir{i}.example/",
                "category": "general",
                "domain_rating": (dr or {}).get(i, 20 + i),
                "link_type": "dofollow",
                "turnaround_days": 0,
                "status": "paused" if i in paused else "active",
                "method": "json",
                "submit_url": f"https://dir{i}.example/api",
            }
            for i in range(1, n + 1)
        ]
    )


async def new_site(repo, account, url="https://example.com", plan=Limits()):
    site, _ = await sites.register_site(
        repo,
        Urls(),
        account_id=account,
        plan=plan,
        url=url,
        details=sites.SiteDetails(name="Example"),
        verify_landing_page=False,
    )
    return site


async def new_job(infra, catalogue, account, site_id, directory_ids, plan=Limits()):
    """A job created through the service, as the API would; returns (job, position)."""
    from domain.services import jobs

    return await jobs.create_job(
        infra.repository,
        catalogue,
        account_id=account,
        plan=plan,
        site_id=site_id,
        directory_ids=directory_ids,
        now=NOW,
    )
