"""The directories report's read model and its one query (`directory_stats`): one
account's figures, one site's, and every account's together (the operator's report and
the public quality tiers), from jobs driven through the application services."""

from __future__ import annotations

from typing import Any

import pytest

from domain import ids
from domain.public_figures import DirectoryPerformance
from projections import report_directories
from projections.registry import read_models
from projections.report_directories import directory_performances, directory_stats
from projections.runner import wait_for
from tests.core.client import Client
from tests.report_flows import fail, lose, not_found, submit, verify

pytestmark = pytest.mark.usefixtures("catalogue")


async def settled(infra: Any) -> None:
    last = await infra.store.max_notification_id()
    assert await wait_for(infra.read_pool, read_models(), last, timeout=30)


async def events_at(client: Client, job_id: str) -> list[tuple[str, int | None, str]]:
    a = await client.get(f"/api/v1/jobs/{job_id}/events", limit="200")
    assert a.status == 200, a.body
    return [(e["type"], e["data"].get("directory_id"), e["at"]) for e in a.body["data"]]


def seconds_between(events: list, directory_id: int) -> float:
    from datetime import datetime

    at = {t: datetime.fromisoformat(a) for t, d, a in events if d == directory_id}
    return (at["Job.TaskVerified"] - at["Job.TaskSubmitted"]).total_seconds()


async def test_directory_stats_per_account_per_site_and_across_accounts(pro, agency, infra):
    repo = infra.repository
    site = await pro.add_site()
    other_site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2, 3, 4])
    job_id = ids.decode("job", job["id"])
    await submit(repo, job_id, 1)
    link = await verify(repo, job_id, 1, "dofollow")
    await lose(repo, link)
    await fail(repo, job_id, 2, "rejected")
    await submit(repo, job_id, 3)
    await not_found(repo, job_id, 3)
    other_job = await pro.job(other_site["id"], [2])
    await fail(repo, ids.decode("job", other_job["id"]), 2, "captcha_required")

    theirs = await agency.job((await agency.add_site())["id"], [1])
    theirs_id = ids.decode("job", theirs["id"])
    await submit(repo, theirs_id, 1)
    await verify(repo, theirs_id, 1, "nofollow")
    await settled(infra)

    account_id = ids.decode("usr", pro.tokens["user"]["id"])
    async with infra.read_pool.acquire() as conn:
        mine = {s.directory_id: s for s in await directory_stats(conn, account_id=account_id)}
        one_site = await directory_stats(
            conn, account_id=account_id, site_id=ids.decode("site", other_site["id"])
        )
        every = {s.directory_id: s for s in await directory_stats(conn)}

    assert sorted(mine) == [1, 2, 3, 4]
    d1 = mine[1]
    assert (d1.submitted, d1.verified, d1.failed, d1.failed_by_code) == (1, 1, 0, {})
    assert (d1.acceptance_rate, d1.backlinks, d1.dofollow_share, d1.lost_rate) == (1, 1, 1, 1)
    assert d1.median_seconds_to_verified == seconds_between(await events_at(pro, job["id"]), 1)
    d2 = mine[2]
    assert (d2.submitted, d2.failed, d2.acceptance_rate) == (0, 2, 0)
    assert d2.failed_by_code == {"rejected": 1, "captcha_required": 1}
    d3 = mine[3]
    assert (d3.submitted, d3.verified, d3.failed_by_code) == (1, 0, {"listing_not_found": 1})
    assert d3.median_seconds_to_verified is None and d3.dofollow_share is None
    d4 = mine[4]  # still pending: named, nothing counted yet
    assert (d4.submitted, d4.failed, d4.acceptance_rate, d4.backlinks) == (0, 0, None, 0)

    assert [(s.directory_id, s.failed_by_code) for s in one_site] == [(2, {"captcha_required": 1})]

    a1 = every[1]
    assert (a1.submitted, a1.verified, a1.backlinks) == (2, 2, 2)
    assert (a1.dofollow_share, a1.lost_rate) == (0.5, 0.5)
    durations = sorted(
        [
            seconds_between(await events_at(pro, job["id"]), 1),
            seconds_between(await events_at(agency, theirs["id"]), 1),
        ]
    )
    assert a1.median_seconds_to_verified == pytest.approx(sum(durations) / 2, abs=1e-6)

    # the public quality tiers' precomputed totals: the same figures, for the directories
    # with an outcome, with their place in the catalogue
    async with infra.read_pool.acquire() as conn:
        public = await directory_performances(conn)
        places = {
            r["id"]: (r["category"], r["domain_rating"])
            for r in await conn.fetch("SELECT id, category, domain_rating FROM directories")
        }
    assert public == [
        DirectoryPerformance(
            category=places[s.directory_id][0],
            domain_rating=places[s.directory_id][1],
            verified=s.verified,
            failed=s.failed,
            median_seconds_to_verified=s.median_seconds_to_verified,
            backlinks=s.backlinks,
            dofollow_share=s.dofollow_share,
        )
        for s in every.values()
        if s.verified + s.failed
    ]
    assert [p.verified + p.failed for p in public] == [2, 2, 1]  # directories 1, 2, 3

    # a database whose reports were projected before the totals existed: `backlynk
    # migrate` (the DDL's last statement) makes the rows the projection would have made
    async with infra.pool.acquire() as conn:
        kept = await conn.fetch("SELECT * FROM report_directory_totals ORDER BY directory_id")
        await conn.execute("DELETE FROM report_directory_totals")
        await conn.execute(report_directories.DDL[-1])
        filled = await conn.fetch("SELECT * FROM report_directory_totals ORDER BY directory_id")
        await conn.execute(report_directories.DDL[-1])  # again: nothing changes
        again = await conn.fetch("SELECT * FROM report_directory_totals ORDER BY directory_id")
    assert [dict(r) for r in filled] == [dict(r) for r in kept] == [dict(r) for r in again]
    assert [r["directory_id"] for r in kept] == [1, 2, 3]  # 4: pending tasks only
