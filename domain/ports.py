"""Ports: the small interfaces that application services are written against.
`adapters/` implements them; entry points wire the real ones in at start-up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.backlink_evidence import Inspection
from domain.directory import Directory

A = TypeVar("A", bound=Aggregate)


class Repository(Protocol):
    async def get(self, aggregate_id: UUID, cls: type[A]) -> A:
        """Load an aggregate; raise `domain.errors.NotFound` if it has no events."""
        ...

    async def save(self, *aggregates: Aggregate) -> int:
        """Append the pending events of all aggregates atomically; return the highest
        notification id written (0 if nothing). Raise `ConcurrencyConflict` on a clash."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class DirectoryCatalogue(Protocol):
    async def by_ids(self, ids: Sequence[int]) -> dict[int, Directory]: ...

    async def active_within(self, dr_cap: int | None) -> list[Directory]: ...


class SiteUrlPolicy(Protocol):
    def normalise(self, url: str) -> tuple[str, str]:
        """(normalised URL, host) or raise `domain.site.InvalidSiteUrl`."""
        ...

    async def landing_page_problem(self, url: str) -> str | None:
        """Why the landing page is unacceptable (unreachable, not 2xx, noindex), or None."""
        ...


class PlanLimits(Protocol):
    """What the services need to know of a plan (domain.plans.Plan provides it)."""

    monthly_submissions: int
    dr_cap: int | None
    max_sites: int


class HostNames(Protocol):
    """Host-name knowledge that needs data the domain does not carry (the IDNA tables, the
    public suffix list)."""

    def to_ascii(self, host: str) -> str | None:
        """The IDNA A-label form of `host`, lower-case; None if it is no valid host name."""
        ...

    def is_under_public_suffix(self, host: str) -> bool:
        """True if `host` (A-label form) is a registrable name or a name below one."""
        ...


class PageInspector(Protocol):
    """Fetches one URL through the SSRF guard and reads the facts of its final page."""

    async def inspect(self, url: str) -> Inspection: ...
