"""Backlink: a link from a directory's listing page to a customer's site, with the
page-level evidence of the last check. Monitoring re-checks live links: a link that
disappears is `lost`, one that comes back is `live` again."""

from __future__ import annotations

from uuid import UUID

import msgspec
from eventsourcing.domain import event

from domain import ids
from domain.aggregate import Aggregate
from domain.backlink_evidence import CheckResult

LIVE, LOST = "live", "lost"


class Evidence(msgspec.Struct, frozen=True):
    """What one check of the listing page showed (see the backlink checker rules)."""

    source_url: str
    has_link: bool
    target_url: str | None = None
    anchor_text: str | None = None
    link_type: str | None = None
    rel_attributes: list[str] = []
    http_status: int | None = None
    indexable: bool = False


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
    )


class Backlink(Aggregate):
    account_id: UUID
    site_id: UUID
    directory_id: int
    job_id: UUID
    evidence: Evidence
    status: str

    @staticmethod
    def create_id(
        account_id: UUID, site_id: UUID, directory_id: int, job_id: UUID, evidence: Evidence
    ) -> UUID:
        # one backlink per (job, directory): a repeated verification finds the same one
        return ids.derived("backlink", job_id, directory_id)

    @event("Discovered")
    def __init__(
        self, account_id: UUID, site_id: UUID, directory_id: int, job_id: UUID, evidence: Evidence
    ) -> None:
        self.account_id = account_id
        self.site_id = site_id
        self.directory_id = directory_id
        self.job_id = job_id
        self.evidence = evidence
        self.status = LIVE

    @property
    def is_live(self) -> bool:
        return self.status == LIVE

    def record_check(self, evidence: Evidence) -> None:
        """Apply a re-check: lost when the link is gone from a live backlink, recovered
        when it is back on a lost one, otherwise just the fresh evidence. A check that
        finds no link keeps what the link was (target, anchor, type, rel), so a lost
        backlink still says what was lost."""
        if not evidence.has_link:
            last = self.evidence
            evidence = msgspec.structs.replace(
                evidence,
                target_url=last.target_url,
                anchor_text=last.anchor_text,
                link_type=last.link_type,
                rel_attributes=list(last.rel_attributes),
            )
        if self.is_live and not evidence.has_link:
            self._lose(evidence)
        elif not self.is_live and evidence.has_link:
            self._recover(evidence)
        else:
            self._check(evidence)

    @event("Checked")
    def _check(self, evidence: Evidence) -> None:
        self.evidence = evidence

    @event("Lost")
    def _lose(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.status = LOST

    @event("Recovered")
    def _recover(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.status = LIVE
