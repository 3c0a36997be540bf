"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from adapters.site_urls import normalise_site_url
from domain.backlink import Evidence
from domain.directory import Directory, parse_catalogue
from domain.ports import JobPorts, Repository, SitePorts
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


class FixedClock:
    def now(self) -> datetime:
        return NOW


class ListedCatalogue:
    """`domain.ports.DirectoryCatalogue` over a list, for services tested without
    Postgres: the rule of `PostgresDirectoryCatalogue` (active within the cap, by id)."""

    def __init__(self, directories: list[Directory]):
        self.directories = sorted(directories, key=lambda d: d.id)

    async def by_ids(self, ids) -> dict[int, Directory]:
        return {d.id: d for d in self.directories if d.id in set(ids)}

    async def active_within(self, dr_cap: int | None) -> list[Directory]:
        return [
            d
            for d in self.directories
            if d.status == "active" and (dr_cap is None or d.domain_rating <= dr_cap)
        ]


def listed_catalogue() -> ListedCatalogue:
    """The `catalogue` fixture's six directories: 5 is paused, 6 has DR 80."""
    return ListedCatalogue(parse_catalogue(catalogue_json(6, paused=(5,), dr={6: 80})))


def site_ports(repo: Repository) -> SitePorts:
    return SitePorts(repo, Urls())


def job_ports(repo: Repository, catalogue) -> JobPorts:
    return JobPorts(repo, catalogue, FixedClock())


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
        site_ports(repo),
        account_id=account,
        plan=plan,
        url=url,
        details=sites.SiteDetails(name="Example"),
        verify_landing_page=False,
    )
    return site


async def new_job(repo, catalogue, account, site_id, directory_ids, plan=Limits()):
    """A job created through the service, as the API would; returns (job, position)."""
    from domain.services import jobs

    return await jobs.create_job(
        job_ports(repo, catalogue),
        account_id=account,
        plan=plan,
        site_id=site_id,
        directory_ids=directory_ids,
    )


def recheck_evidence(link: str | None, target_url: str, anchor: str) -> Evidence:
    """What a re-check of a listing page shows: the link, of type `link` ("dofollow" or
    "nofollow"), or (None) a page that is gone."""
    return Evidence(
        "https://dir.example/listing",
        link is not None,
        target_url if link else None,
        anchor if link else None,
        link,
        ["nofollow"] if link == "nofollow" else [],
        200 if link else 404,
        link is not None,
    )
