"""Every report equals what `tests/report_oracle.py` computes from `backlynk events export`
alone: random jobs for two accounts are driven through the application services (as the
API and the workers drive them) — submitted, failed with various codes, retried,
verified with a link type, not found, lost, recovered, canceled — and links added by
hand, checked found, missing or unreachable at random, and then each report,
as its query answers it from the read model, is compared with the oracle's figures over
several scopes and ranges."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.event_export import export_lines
from domain import ids
from domain.quota import period_of
from projections.registry import read_models
from projections.report_backlinks import backlinks_over_time
from projections.report_directories import directory_stats
from projections.report_usage import usage_by_month, usage_by_site
from projections.runner import wait_for
from tests import report_flows as flows
from tests import report_oracle as oracle
from tests.core.client import Client, account

pytestmark = pytest.mark.usefixtures("catalogue")

CODES = ["rejected", "captcha_required", "form_not_found"]


async def drive(rnd: random.Random, client: Client, repo: Any) -> None:
    """A site and a job of `client` whose tasks meet random fates."""
    site = await client.add_site()
    directories = rnd.sample([1, 2, 3, 4, 6], rnd.randint(1, 5))
    job = await client.job(site["id"], directories)
    job_id = ids.decode("job", job["id"])
    for d in directories:
        fate = rnd.choice(
            ["pending", "fail", "retry", "submitted", "verified", "not_found", "lost", "recovered"]
        )
        if fate == "pending":
            continue
        if fate == "fail":
            await flows.fail(repo, job_id, d, rnd.choice(CODES))
            continue
        if fate == "retry":
            await flows.retry(repo, job_id, d)
            if rnd.random() < 0.5:
                continue
        await flows.submit(repo, job_id, d)
        if fate in ("submitted", "retry"):
            continue
        if fate == "not_found":
            await flows.not_found(repo, job_id, d)
            continue
        link = await flows.verify(repo, job_id, d, rnd.choice(["dofollow", "nofollow", "ugc"]))
        if fate in ("lost", "recovered"):
            await flows.lose(repo, link)
        if fate == "recovered":
            await flows.recover(repo, link, rnd.choice(["dofollow", "nofollow"]))
    if rnd.random() < 0.3:
        answer = await client.post(f"/api/v1/jobs/{job['id']}/cancel")
        assert answer.status in (202, 409), answer.body
    for n in range(rnd.randint(0, 2)):
        # links added by hand: pending, then checks found, missing or unreachable
        account_id = ids.decode("usr", client.tokens["user"]["id"])
        link = await flows.add_by_hand(
            repo, account_id, ids.decode("site", site["id"]), f"https://page{n}.example/"
        )
        for _ in range(rnd.randint(0, 4)):
            await flows.check(repo, link, rnd.choice(list(flows.CHECKS)))


def rows(report: list[Any]) -> list[dict[str, Any]]:
    return [msgspec.structs.asdict(r) for r in report]


@pytest.fixture
async def accounts(api, infra) -> list[Client]:
    return [await account(api, infra, "agency"), await account(api, infra, "agency")]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32), jobs=st.integers(1, 3))
async def test_every_report_equals_the_oracle_over_the_event_export(accounts, infra, seed, jobs):
    rnd = random.Random(seed)
    for _ in range(jobs):
        await drive(rnd, rnd.choice(accounts), infra.repository)
    last = await infra.store.max_notification_id()
    assert await wait_for(infra.read_pool, read_models(), last, timeout=60)
    async with infra.pool.acquire() as conn:
        lines = [line async for line in export_lines(conn)]

    now = datetime.now(UTC)
    this_month = period_of(now)
    async with infra.read_pool.acquire() as conn:
        for client in accounts:
            account_id = ids.decode("usr", client.tokens["user"]["id"])
            for first in (this_month, "2025-01"):
                assert rows(await usage_by_month(conn, account_id, first, this_month)) == (
                    oracle.usage_report(lines, account_id, first, this_month, "month")
                )
                assert rows(await usage_by_site(conn, account_id, first, this_month)) == (
                    oracle.usage_report(lines, account_id, first, this_month, "site")
                )
            assert rows(await directory_stats(conn, account_id=account_id)) == (
                oracle.directories_report(lines, account_id)
            )
            sites = sorted(
                {
                    uuid.UUID(e["state"]["site_id"])
                    for e in map(msgspec.json.decode, lines)
                    if e["topic"].endswith("Job.Created")
                    and uuid.UUID(e["state"]["account_id"]) == account_id
                }
            )
            for site_id in [uuid.uuid4(), *sites]:  # a site with nothing, and each of theirs
                assert rows(
                    await directory_stats(conn, account_id=account_id, site_id=site_id)
                ) == oracle.directories_report(lines, account_id, site_id)
            for interval, since, until in [
                ("day", now - timedelta(days=3), now + timedelta(days=2)),
                ("day", now + timedelta(days=1), now + timedelta(days=3)),
                ("week", now - timedelta(weeks=5), now),
            ]:
                for scope in (None, *sites[:1]):
                    assert rows(
                        await backlinks_over_time(conn, account_id, scope, interval, since, until)
                    ) == oracle.backlinks_report(lines, account_id, scope, interval, since, until)
        # every account together: the operator's report and the public quality tiers
        assert rows(await directory_stats(conn)) == oracle.directories_report(lines)
