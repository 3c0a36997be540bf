"""Site: a customer's website registered for directory submissions.

A site also remembers which directories it is claimed for (a job in flight or a
submission done), so two jobs never submit the same site to the same directory: a job
claims its directories on the site in the same atomic save that creates it.
"""

from __future__ import annotations

from uuid import UUID

import msgspec
from eventsourcing.domain import event

from domain import ids
from domain.aggregate import Aggregate
from domain.errors import Conflict, NotFound, ValidationFailed


class SiteExists(Conflict):
    code = "site_exists"


class SiteLimitReached(ValidationFailed):
    code = "site_limit_reached"


class InvalidSiteUrl(ValidationFailed):
    code = "invalid_site_url"


class SiteFacts(msgspec.Struct, frozen=True):
    """What a directory is told about a site."""

    url: str
    domain: str
    name: str
    description: str = ""
    contact_email: str = ""
    category: str = ""
    keywords: str = ""

    def values(self) -> dict[str, str]:
        return {
            "url": self.url,
            "name": self.name,
            "description": self.description,
            "contact_email": self.contact_email,
            "category": self.category,
            "keywords": self.keywords,
        }


class SiteDetails(msgspec.Struct):
    """What the customer says about a site: given at registration, and the only fields of
    a site that may change later (its URL and domain never do)."""

    name: str
    description: str | None = None
    category: str | None = None
    keywords: list[str] = []
    contact_email: str | None = None


#: the fields `Site.update` accepts
CHANGEABLE = frozenset(SiteDetails.__struct_fields__)


def check_changes(changes: dict[str, object]) -> None:
    """Refuse a change of the URL (a new URL is a new site) and of anything not
    changeable, before any site is loaded."""
    if "url" in changes:
        raise ValidationFailed(
            "A site's URL cannot change; register the new URL as a site and archive this one.",
            field="url",
        )
    for name in changes:
        if name not in CHANGEABLE:
            raise ValidationFailed(f"A site has no field {name!r} that can change.", field=name)


def site_not_found() -> NotFound:
    """Unknown id and another account's id get this same answer: nothing tells them apart."""
    return NotFound("No site with this id.")


class Site(Aggregate):
    account_id: UUID
    url: str
    domain: str
    name: str
    description: str | None
    category: str | None
    keywords: list[str]
    contact_email: str | None
    status: str
    #: directory id (as str) -> job id (hex) that claimed it
    claims: dict[str, str]

    @event("Registered")
    def __init__(
        self,
        account_id: UUID,
        url: str,
        domain: str,
        name: str,
        description: str | None,
        category: str | None,
        keywords: list[str],
        contact_email: str | None,
    ) -> None:
        self.account_id = account_id
        self.url = url
        self.domain = domain
        self.name = name
        self.description = description
        self.category = category
        self.keywords = keywords
        self.contact_email = contact_email
        self.status = "active"
        self.claims = {}

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def facts(self, account_email: str) -> SiteFacts:
        """What directories are told; the account's email stands in for a missing one."""
        return SiteFacts(
            url=self.url,
            domain=self.domain,
            name=self.name,
            description=self.description or "",
            contact_email=self.contact_email or account_email,
            category=self.category or "",
            keywords=", ".join(self.keywords),
        )

    def check_belongs_to(self, account_id: UUID) -> None:
        """Another account's site is indistinguishable from a missing one."""
        if self.account_id != account_id:
            raise site_not_found()

    def check_is_active(self) -> None:
        if not self.is_active:
            raise ValidationFailed(
                "The site is archived; register it again to use it.", field="site_id"
            )

    def update(self, changes: dict[str, object]) -> None:
        """Change some of the site's details (`SiteDetails`' fields); an unchanged value
        is no change, and no change records no event."""
        check_changes(changes)
        self.check_is_active()
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._update(changes)

    @event("Updated")
    def _update(self, changes: dict[str, object]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def archive(self) -> None:
        if self.is_active:
            self._archive()

    @event("Archived")
    def _archive(self) -> None:
        self.status = "archived"

    def unclaimed(self, directory_ids: list[int]) -> list[int]:
        return [d for d in directory_ids if str(d) not in self.claims]

    def claim(self, job_id: UUID, directory_ids: list[int]) -> None:
        taken = [d for d in directory_ids if str(d) in self.claims]
        if taken:
            raise Conflict(f"Directories {taken} are already claimed for this site.")
        if directory_ids:
            self._claim(job_id, directory_ids)

    @event("Claimed")
    def _claim(self, job_id: UUID, directory_ids: list[int]) -> None:
        self.claims = {**self.claims, **{str(d): job_id.hex for d in directory_ids}}

    def unclaim(self, job_id: UUID, directory_ids: list[int]) -> None:
        """Give directories back (their task failed or was canceled) so a later job may
        try them again. Only the claiming job can give a claim back."""
        mine = [d for d in directory_ids if self.claims.get(str(d)) == job_id.hex]
        if mine:
            self._unclaim(mine)

    @event("Unclaimed")
    def _unclaim(self, directory_ids: list[int]) -> None:
        gone = {str(d) for d in directory_ids}
        self.claims = {k: v for k, v in self.claims.items() if k not in gone}


class SiteRegistry(Aggregate):
    """An account's active sites by normalised URL: enforces "same URL twice in one
    account → 409" and the plan's site limit, atomically with the Site it admits."""

    account_id: UUID
    sites: dict[str, UUID]

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return ids.derived("site-registry", account_id)

    @event("Opened")
    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self.sites = {}

    def admit(self, url: str, site_id: UUID, limit: int) -> None:
        self.check_can_admit(url, limit)
        self._admit(url, site_id)

    def check_can_admit(self, url: str, limit: int) -> None:
        if url in self.sites:
            raise SiteExists(f"{url} is already registered in this account.", field="url")
        if len(self.sites) >= limit:
            raise SiteLimitReached(
                f"Your plan allows {limit} active site(s); archive one or upgrade.", field="url"
            )

    @event("Admitted")
    def _admit(self, url: str, site_id: UUID) -> None:
        self.sites = {**self.sites, url: site_id}

    def remove(self, url: str, site_id: UUID) -> None:
        if self.sites.get(url) == site_id:
            self._remove(url)

    @event("Removed")
    def _remove(self, url: str) -> None:
        self.sites = {k: v for k, v in self.sites.items() if k != url}
