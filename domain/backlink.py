"""Backlink: a link from a page (a directory's listing, or a page the customer added to
monitoring) to a customer's site, with the page-level evidence of the last check.

What can happen to a backlink:

* `Discovered` (verification found the listing) or `Added` (`POST /backlinks`: a link the
  customer already has; `pending` until its first check, no job and no directory);
* each re-check records one event, carrying the status after it, the check's outcome, how
  many checks in a row have failed and what changed since the check before:
  `Lost`, `Recovered` (lost → live), `BecameUnreachable` (→ unreachable) or, when the status
  says nothing new, `Checked`;
* `RecheckRequested`: a re-check asked for through the API (once per window), queued by
  the dispatcher.

A check's outcome (`outcome_of`):

* `found` — the page answered 2xx, was read in full and links to the site;
* `missing` — the page answered 2xx without the link (HTML or not), or 404 / 410 (gone);
* `unreachable` — anything that says nothing about the link: no answer (timeout, DNS,
  connection or TLS error, blocked address), a body over the size limit, a redirect loop
  or chain too long, a 5xx, 429, 401/403 or any other status.

The rules (`record_check`):

* `found` makes the backlink `live` (a lost one is `Recovered`) and clears the failures;
* `missing` makes it `lost` only when the check before it failed too (missing or
  unreachable): the first miss keeps a live link live and is recorded as a failure;
* `unreachable` never makes a link lost — nothing was read, and a flaky host must not
  raise a false alarm — but makes a live (or pending) one `unreachable`; a lost one stays
  lost. Two unreachable checks in a row therefore leave it `unreachable`; a `missing`
  check after one is the second failure in a row, and loses it.
* A check that finds no link keeps what the link was (target, anchor, type, rel), so a
  lost backlink still says what was lost; an unreachable check keeps everything the page
  showed last and updates only the answer (status, error, indexable).

Events stored before these rules (class version 2: `Checked`, `Lost`, `Recovered` with
evidence only, where one miss lost the link) are upcast to version 3 on load: outcome from
the evidence, the status the old rule gave, no recorded changes.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import event

from domain import ids
from domain.aggregate import Aggregate
from domain.backlink_evidence import CheckResult
from domain.errors import Conflict, NotFound, ValidationFailed

PENDING, LIVE, UNREACHABLE, LOST = "pending", "live", "unreachable", "lost"
STATUSES = (PENDING, LIVE, UNREACHABLE, LOST)

FOUND, MISSING = "found", "missing"
OUTCOMES = (FOUND, MISSING, UNREACHABLE)

#: answers that say the page is gone, so its link is too
GONE_STATUSES = frozenset({404, 410})


class Evidence(msgspec.Struct, frozen=True):
    """What one check of the page showed (see the backlink checker rules)."""

    source_url: str
    has_link: bool
    target_url: str | None = None
    anchor_text: str | None = None
    link_type: str | None = None
    rel_attributes: list[str] = []
    http_status: int | None = None
    indexable: bool = False
    #: the fetch error code (timeout, dns_error, ...); absent from evidence stored before it
    error: str | None = None


def evidence_of(result: CheckResult) -> Evidence:
    """A backlink check's result as the evidence kept on a backlink."""
    return Evidence(
        source_url=result.final_url,
        has_link=result.has_link,
        target_url=result.target_url,
        anchor_text=result.anchor_text,
        link_type=result.link_type,
        rel_attributes=list(result.rel_attributes),
        http_status=result.http_status,
        indexable=result.indexable,
        error=result.error.code if result.error else None,
    )


def outcome_of(evidence: Evidence) -> str:
    """found, missing or unreachable (the module's rules)."""
    status = evidence.http_status
    if evidence.error is None and status is not None and 200 <= status < 300:
        return FOUND if evidence.has_link else MISSING
    if evidence.error is None and status in GONE_STATUSES:
        return MISSING
    return UNREACHABLE


class Change(msgspec.Struct, frozen=True):
    """One field of the evidence that a check changed: `has_link` true → false is the
    link gone, false → true the link back."""

    field: str
    before: str | int | bool | list[str] | None
    after: str | int | bool | list[str] | None


#: the evidence fields a check compares, in the order changes are listed
COMPARED = (
    "has_link",
    "target_url",
    "anchor_text",
    "link_type",
    "rel_attributes",
    "http_status",
    "indexable",
    "error",
)


def changes_between(before: Evidence, after: Evidence) -> list[Change]:
    return [
        Change(name, getattr(before, name), getattr(after, name))
        for name in COMPARED
        if getattr(before, name) != getattr(after, name)
    ]


def kept_evidence(last: Evidence, seen: Evidence, outcome: str) -> Evidence:
    """What the backlink keeps after a check (the module's rules)."""
    if outcome == FOUND:
        return seen
    if outcome == MISSING:
        return msgspec.structs.replace(
            seen,
            target_url=last.target_url,
            anchor_text=last.anchor_text,
            link_type=last.link_type,
            rel_attributes=list(last.rel_attributes),
        )
    return msgspec.structs.replace(
        last,
        source_url=seen.source_url,
        http_status=seen.http_status,
        indexable=seen.indexable,
        error=seen.error,
    )


def next_status(status: str, failures: int, outcome: str) -> tuple[str, int]:
    """(status, failed checks in a row) after a check with `outcome`."""
    if outcome == FOUND:
        return LIVE, 0
    if status == LOST:
        return LOST, failures + 1
    if outcome == MISSING:
        return (LOST if failures >= 1 else status), failures + 1
    return UNREACHABLE, failures + 1


class BacklinkExists(Conflict):
    code = "backlink_exists"


class MonitorLimitReached(ValidationFailed):
    code = "monitor_limit_reached"


def backlink_not_found() -> NotFound:
    return NotFound("No backlink with this id.")


def _upcast(status_of: Any) -> Any:
    """Version 2 → 3 of a check event: outcome from the evidence (an old check either saw
    the page with the link or treated it as missing), the status the old rule gave (one
    miss lost the link), no changes recorded."""

    def upcast(state: dict[str, Any]) -> None:
        has_link = bool(state["evidence"].get("has_link"))
        state["outcome"] = FOUND if has_link else MISSING
        state["status"] = status_of(has_link)
        state["failures"] = 0 if has_link else 1
        state["changes"] = []

    return staticmethod(upcast)


class Backlink(Aggregate):
    account_id: UUID
    site_id: UUID
    directory_id: int | None
    job_id: UUID | None
    #: the page that is re-checked: the listing found, or the URL added
    page_url: str
    evidence: Evidence
    status: str
    #: failed checks in a row (missing or unreachable)
    failures: int
    #: the window of the last re-check asked for through the API
    recheck_window: int | None

    class Added(Aggregate.Created):
        account_id: UUID
        site_id: UUID
        page_url: str

    class CheckRecorded(Aggregate.Event):
        """What every check records (not stored itself: its subclasses are)."""

        class_version = 3
        evidence: Evidence
        status: str
        outcome: str
        failures: int
        changes: list[Change]

        def apply(self, aggregate: Any) -> None:
            aggregate.evidence = self.evidence
            aggregate.status = self.status
            aggregate.failures = self.failures

    class Checked(CheckRecorded):
        upcast_v2_v3 = _upcast(lambda has_link: LIVE if has_link else LOST)

    class Lost(CheckRecorded):
        upcast_v2_v3 = _upcast(lambda has_link: LOST)

    class Recovered(CheckRecorded):
        upcast_v2_v3 = _upcast(lambda has_link: LIVE)

    class BecameUnreachable(CheckRecorded):
        pass

    class RecheckRequested(Aggregate.Event):
        """A re-check asked for through the API, in re-check window `window`."""

        window: int

        def apply(self, aggregate: Any) -> None:
            aggregate.recheck_window = self.window

    @staticmethod
    def create_id(
        account_id: UUID,
        site_id: UUID,
        directory_id: int | None = None,
        job_id: UUID | None = None,
        evidence: Evidence | None = None,
        page_url: str | None = None,
    ) -> UUID:
        if job_id is None:
            # one added backlink per (site, page): adding it twice claims the same id
            return added_id(site_id, page_url or "")
        # one backlink per (job, directory): a repeated verification finds the same one
        return ids.derived("backlink", job_id, directory_id)

    @event("Discovered")
    def __init__(
        self,
        account_id: UUID,
        site_id: UUID,
        directory_id: int | None = None,
        job_id: UUID | None = None,
        evidence: Evidence | None = None,
        page_url: str | None = None,
    ) -> None:
        # `Discovered` gives a directory, a job and the evidence found; `Added` (through
        # `add`) only the page, checked later
        self.account_id = account_id
        self.site_id = site_id
        self.directory_id = directory_id
        self.job_id = job_id
        if evidence is None:
            self.page_url = page_url or ""
            self.evidence = Evidence(source_url=self.page_url, has_link=False)
            self.status = PENDING
        else:
            self.page_url = evidence.source_url
            self.evidence = evidence
            self.status = LIVE
        self.failures = 0
        self.recheck_window = None

    @classmethod
    def add(cls, account_id: UUID, site_id: UUID, page_url: str) -> Backlink:
        """A link the customer already has, monitored from now on (`pending` until its
        first check)."""
        return cls._create(
            cls.Added,
            id=added_id(site_id, page_url),
            account_id=account_id,
            site_id=site_id,
            page_url=page_url,
        )

    def check_belongs_to(self, account_id: UUID) -> None:
        if self.account_id != account_id:
            raise backlink_not_found()

    @property
    def is_live(self) -> bool:
        return self.status == LIVE

    def request_recheck(self, window: int) -> bool:
        """A re-check now, once per window: False (nothing recorded) when one was asked
        for in this window already."""
        if self.recheck_window == window:
            return False
        self.trigger_event(self.RecheckRequested, window=window)
        return True

    def record_check(self, seen: Evidence) -> str:
        """Apply one check of the page (the module's rules); returns its outcome."""
        outcome = outcome_of(seen)
        evidence = kept_evidence(self.evidence, seen, outcome)
        status, failures = next_status(self.status, self.failures, outcome)
        if status == LOST and self.status != LOST:
            cls: type[Backlink.CheckRecorded] = self.Lost
        elif status == LIVE and self.status == LOST:
            cls = self.Recovered
        elif status == UNREACHABLE and self.status != UNREACHABLE:
            cls = self.BecameUnreachable
        else:
            cls = self.Checked
        self.trigger_event(
            cls,
            evidence=evidence,
            status=status,
            outcome=outcome,
            failures=failures,
            changes=changes_between(self.evidence, evidence),
        )
        return outcome


def added_id(site_id: UUID, page_url: str) -> UUID:
    return ids.derived("backlink-added", site_id, page_url)
