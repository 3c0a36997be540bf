"""Quota under concurrency, through the HTTP API: `reserved + used + requested <= limit`
holds when many job creations race for the last units, and the usage read model
(`users/me`) agrees with the event store."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from adapters.directories import upsert
from domain import ids
from domain.directory import parse_catalogue
from domain.quota import Quota, period_of
from domain.services.jobs import load_quota
from projections.runner import wait_for
from tests.core.client import Client, assert_error
from tests.support import catalogue_json


async def use_up_quota(infra: Any, client: Client, *, leave: int, limit: int = 150) -> None:
    """Record `limit - leave` submissions as already made this month (reserved, then
    consumed, as the worker does), so `leave` units remain; waits until users/me shows it."""
    account_id = ids.decode("usr", client.tokens["user"]["id"])
    assert account_id is not None
    quota: Quota = await load_quota(infra.repository, account_id, period_of(infra.clock.now()))
    earlier_job = uuid.uuid4()
    quota.reserve(earlier_job, limit - leave, limit)
    quota.consume(earlier_job, limit - leave)
    await infra.repository.save(quota)
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, client.server.app.state.projections, latest, timeout=60)
    usage = await client.usage()
    assert (usage["used"], usage["remaining"]) == (limit - leave, leave), usage


async def test_twenty_concurrent_jobs_against_ten_remaining_units(pro: Client, infra):
    """20 jobs of one directory each race for the last 10 units: exactly 10 win."""
    async with infra.pool.acquire() as conn:
        await upsert(conn, parse_catalogue(catalogue_json(20, dr={i: 30 for i in range(1, 21)})))
    site = await pro.add_site()
    await use_up_quota(infra, pro, leave=10)

    answers = await asyncio.gather(*(pro.create_job(site["id"], [d]) for d in range(1, 21)))

    won = [a for a in answers if a.status == 202]
    lost = [a for a in answers if a.status != 202]
    assert len(won) == 10, [a.body for a in lost]
    assert len(lost) == 10
    for a in lost:
        assert_error(a, 422, "quota_exceeded")
        assert "0 of 150 remain" in a.body["error"]["details"]
    usage = await pro.usage()
    assert (usage["reserved"], usage["used"], usage["remaining"]) == (10, 140, 0)
    # the read models agree with the answers
    jobs = (await pro.get("/api/v1/jobs", limit=200)).body["data"]
    assert sorted(j["id"] for j in jobs) == sorted(a.body["id"] for a in won)
    assert all(j["progress"]["pending"] == 1 for j in jobs)
    # and the event store: one reservation per winning job
    account_id = ids.decode("usr", pro.tokens["user"]["id"])
    quota = await load_quota(infra.repository, account_id, period_of(infra.clock.now()))
    assert quota.total_reserved == 10 and quota.used == 140


async def test_concurrent_jobs_on_many_sites_never_overbook(agency: Client, infra, catalogue):
    """The same race across sites (no shared Site aggregate to serialise on)."""
    sites = [await agency.add_site() for _ in range(6)]
    await use_up_quota(infra, agency, leave=5, limit=600)
    answers = await asyncio.gather(
        *(agency.create_job(s["id"], [1]) for s in sites),
        *(agency.create_job(s["id"], [2]) for s in sites),
    )
    assert sorted(a.status for a in answers).count(202) == 5
    assert {a.body["error"]["code"] for a in answers if a.status != 202} == {"quota_exceeded"}
    usage = await agency.usage()
    assert (usage["reserved"], usage["remaining"]) == (5, 0)
