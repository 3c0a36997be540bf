"""The minimum-sample rule of the public quality tiers (`domain.public_figures`): a group
shows figures only with enough directories and outcomes behind them, and the figures
weigh every submission alike."""

from __future__ import annotations

from domain.public_figures import (
    MIN_DIRECTORIES,
    MIN_OUTCOMES,
    DirectoryPerformance,
    by_category,
    by_dr_tier,
    figures,
)


def perf(
    dr: int,
    verified: int,
    failed: int,
    *,
    category: str = "saas",
    hours: float | None = 2.0,
    backlinks: int | None = None,
    dofollow: float | None = 1.0,
) -> DirectoryPerformance:
    return DirectoryPerformance(
        category=category,
        domain_rating=dr,
        verified=verified,
        failed=failed,
        median_seconds_to_verified=None if hours is None else hours * 3600,
        backlinks=verified if backlinks is None else backlinks,
        dofollow_share=dofollow if verified else None,
    )


def test_a_group_below_the_minimum_directories_shows_no_figure():
    # two directories with plenty of outcomes: still not enough (one reveals the other)
    group = figures("30-49", [perf(35, 40, 10), perf(40, 30, 20)])
    assert MIN_DIRECTORIES == 3
    assert group.enough_data is False and group.directories == 2
    assert (group.outcomes, group.acceptance_rate, group.median_hours_to_live) == (
        None,
        None,
        None,
    )
    assert group.dofollow_share is None


def test_a_group_below_the_minimum_outcomes_shows_no_figure():
    members = [perf(35, 3, 0), perf(36, 3, 0), perf(37, 2, 1)]  # 9 outcomes
    assert sum(m.outcomes for m in members) == MIN_OUTCOMES - 1
    assert figures("30-49", members).enough_data is False
    members.append(perf(38, 1, 0))
    assert figures("30-49", members).enough_data is True


def test_directories_without_an_outcome_do_not_count_towards_the_minimum():
    idle = perf(30, 0, 0, hours=None)
    group = figures("30-49", [perf(35, 10, 0), perf(40, 10, 0), idle, idle])
    assert group.directories == 2 and group.enough_data is False


def test_rates_weigh_every_submission_and_times_every_listing_alike():
    group = figures(
        "30-49",
        [
            perf(35, 8, 2, hours=1.0, dofollow=1.0),  # 8 links, all dofollow
            perf(40, 1, 9, hours=10.0, dofollow=0.0),  # 1 link, nofollow
            perf(45, 3, 1, hours=4.0, backlinks=4, dofollow=0.5),  # 2 of 4 links
        ],
    )
    assert group.enough_data and group.directories == 3 and group.outcomes == 24
    assert group.acceptance_rate == round(12 / 24, 4)
    # (1 h × 8 + 10 h × 1 + 4 h × 3) / 12 verified listings
    assert group.median_hours_to_live == 2.5
    assert group.dofollow_share == round(10 / 13, 4)


def test_every_tier_is_listed_in_order_and_categories_only_with_data():
    members = [
        perf(10, 5, 0, category="local"),
        perf(20, 5, 0, category="local"),
        perf(25, 5, 0, category="general"),
        perf(75, 0, 0, category="saas", hours=None),
    ]
    tiers = by_dr_tier(members)
    assert [t.group for t in tiers] == ["0-29", "30-49", "50-69", "70+"]
    assert [t.enough_data for t in tiers] == [True, False, False, False]
    assert [t.directories for t in tiers] == [3, 0, 0, 0]
    categories = by_category(members)
    assert [(c.group, c.directories, c.enough_data) for c in categories] == [
        ("general", 1, False),
        ("local", 2, False),
    ]
