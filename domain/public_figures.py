"""What the public pages may say about the catalogue: aggregates only, never a figure that
belongs to one directory.

The seed promises "aggregate coverage, quality tiers, and delivery examples without
exposing the operational directory list". A group (a DR tier, a category) is shown with
performance figures only when it holds at least `MIN_DIRECTORIES` directories that have
data and at least `MIN_OUTCOMES` submissions with an outcome (listing verified, or failed)
between them; otherwise the page says "not enough data". With two directories, anyone who
knows one of them (a customer, from their own report) reads the other's figures off the
group's; three is the smallest group where that fails. Ten outcomes keep a rate from
being one or two lucky listings. The same rule decides whether a delivery example may
name its category (`domain.showcase`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from domain.directory import DR_TIERS, dr_tier

#: fewest directories with data behind any figure the public pages show
MIN_DIRECTORIES = 3
#: fewest submissions with an outcome (listing verified, or failed) behind a group's rates
MIN_OUTCOMES = 10


class DirectoryPerformance(msgspec.Struct, frozen=True):
    """One directory's record across every account, as the directory-quality read model
    gives it, with its place in the catalogue: the input of the aggregation, never shown
    as such."""

    category: str
    domain_rating: int
    verified: int
    #: failed for good (refused, retries exhausted, listing not found)
    failed: int
    #: median over its verified tasks of submission → verified listing, in seconds
    median_seconds_to_verified: float | None
    backlinks: int
    #: backlinks whose latest link type is dofollow ÷ backlinks; None without any
    dofollow_share: float | None

    @property
    def outcomes(self) -> int:
        return self.verified + self.failed


class GroupFigures(msgspec.Struct, frozen=True):
    """A group's performance as the public sees it (a DR tier or a category). The figures
    are None when the group is below the minimum sample (`enough_data` false)."""

    group: str
    #: directories of the group with at least one outcome
    directories: int
    enough_data: bool
    #: submissions with an outcome
    outcomes: int | None = None
    #: verified ÷ outcomes, 0..1
    acceptance_rate: float | None = None
    #: the directories' median times from submission to a live listing, averaged weighted
    #: by their verified listings, in hours (no per-listing time leaves the read model,
    #: and unlike a median of medians this is never one directory's own figure)
    median_hours_to_live: float | None = None
    #: dofollow share of the group's backlinks, 0..1
    dofollow_share: float | None = None


def enough(directories: int, outcomes: int) -> bool:
    return directories >= MIN_DIRECTORIES and outcomes >= MIN_OUTCOMES


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(group: str, members: Sequence[DirectoryPerformance]) -> GroupFigures:
    """The public figures of one group of directories: each rate weighs every submission
    (or backlink) alike, whichever directory it went to."""
    with_data = [m for m in members if m.outcomes > 0]
    outcomes = sum(m.outcomes for m in with_data)
    if not enough(len(with_data), outcomes):
        return GroupFigures(group, len(with_data), False)
    timed = [
        (m.median_seconds_to_verified, m.verified)
        for m in with_data
        if m.median_seconds_to_verified is not None and m.verified
    ]
    linked = [(m.dofollow_share, m.backlinks) for m in with_data if m.dofollow_share is not None]
    hours = _rate(sum(s * n for s, n in timed) / 3600, sum(n for _, n in timed))
    return GroupFigures(
        group,
        len(with_data),
        True,
        outcomes=outcomes,
        acceptance_rate=_rate(sum(m.verified for m in with_data), outcomes),
        median_hours_to_live=None if hours is None else round(hours, 2),
        dofollow_share=_rate(
            sum(round(share * n) for share, n in linked), sum(n for _, n in linked)
        ),
    )


def by_dr_tier(performances: Iterable[DirectoryPerformance]) -> list[GroupFigures]:
    """Every DR tier, in order, each with its figures or "not enough data"."""
    groups: dict[str, list[DirectoryPerformance]] = {t: [] for t in DR_TIERS}
    for p in performances:
        groups[dr_tier(p.domain_rating)].append(p)
    return [figures(tier, members) for tier, members in groups.items()]


def by_category(performances: Iterable[DirectoryPerformance]) -> list[GroupFigures]:
    """Every category that has a directory with data, by name."""
    groups: dict[str, list[DirectoryPerformance]] = {}
    for p in performances:
        if p.outcomes:
            groups.setdefault(p.category, []).append(p)
    return [figures(c, groups[c]) for c in sorted(groups)]
