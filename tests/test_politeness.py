"""Politeness limits hold across processes (here: separate clients of one Redis). Each
test has its own Redis namespace (`settings`); the time bounds are the rules' own lower
bounds, and upper bounds only far beyond them (a busy machine is slow, never fast)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from redis.asyncio import Redis

from adapters.politeness import HostBusy, Politeness


async def test_one_request_at_a_time_per_host_with_a_delay_between(settings):
    clients = [Redis.from_url(settings.redis_url) for _ in range(2)]
    gates = [Politeness(c, settings, host_delay=0.2) for c in clients]
    spans: list[tuple[float, float]] = []

    async def visit(gate: Politeness) -> None:
        async with gate.slot("dir.example"):
            start = time.monotonic()
            await asyncio.sleep(0.05)
            spans.append((start, time.monotonic()))

    try:
        await asyncio.gather(*(visit(g) for g in gates * 2))
    finally:
        for c in clients:
            await c.aclose()
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start - end >= 0.18  # never overlapping, and the delay respected


async def test_different_hosts_run_together_up_to_the_global_limit(settings):
    redis = Redis.from_url(settings.redis_url)
    gates = [Politeness(redis, settings, global_limit=2, host_delay=0) for _ in range(3)]
    inflight = 0
    peak = 0

    async def visit(gate: Politeness, host: str) -> None:
        nonlocal inflight, peak
        async with gate.slot(host):
            inflight += 1
            peak = max(peak, inflight)
            await asyncio.sleep(0.1)
            inflight -= 1

    try:
        await asyncio.gather(*(visit(g, f"h{i}.example") for i, g in enumerate(gates * 2)))
    finally:
        await redis.aclose()
    assert peak == 2


async def test_a_dead_holder_blocks_only_until_its_lease_ends(settings):
    redis = Redis.from_url(settings.redis_url)
    gate = Politeness(redis, settings, lease=0.3, host_delay=0)
    try:
        dead = gate.slot("crash.example")
        await dead.__aenter__()  # acquired, then the process "dies": never released
        started = time.monotonic()
        async with gate.slot("crash.example"):
            waited = time.monotonic() - started
        # the lease (0.3 s) ended it; nothing else releases the host (the default lease is
        # 60 s)
        assert 0.2 <= waited < 30
    finally:
        await redis.aclose()


async def test_a_held_host_gives_host_busy_after_max_wait_and_leaves_nothing_held(settings):
    own = settings  # this test's own Redis namespace
    redis = Redis.from_url(settings.redis_url)
    holder = Politeness(redis, own, host_delay=0)
    impatient = Politeness(redis, own, host_delay=0, max_wait=0.2)
    inflight = own.redis_key("polite", "inflight")
    lock = own.redis_key("polite", "host", "busy.example")
    held, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with holder.slot("busy.example"):
            held.set()
            await release.wait()

    holding = asyncio.create_task(hold())
    try:
        await held.wait()
        started = time.monotonic()
        with pytest.raises(HostBusy) as busy:
            async with impatient.slot("busy.example"):
                pytest.fail("entered a host that another holds")
        assert 0.2 <= time.monotonic() - started < 30  # gave up, not waiting for the holder
        assert busy.value.retry_in >= 1.0
        # the refused caller gave its global slot back: only the holder's is in flight
        assert await redis.zcard(inflight) == 1
        release.set()
        await holding
        assert await redis.zcard(inflight) == 0 and not await redis.exists(lock)
        # free at once: without patience, a host that is not free is HostBusy at once
        at_once = Politeness(redis, own, host_delay=0, max_wait=0)
        async with at_once.slot("busy.example"):
            assert await redis.exists(lock)
    finally:
        release.set()
        await holding
        await redis.aclose()


async def test_host_busy_when_the_global_limit_stays_full(settings):
    own = settings  # this test's own Redis namespace
    redis = Redis.from_url(settings.redis_url)
    gate = Politeness(redis, own, global_limit=1, host_delay=0, max_wait=0.15)
    inflight = own.redis_key("polite", "inflight")
    try:
        async with gate.slot("one.example"):
            with pytest.raises(HostBusy):
                async with gate.slot("two.example"):
                    pytest.fail("entered above the global limit")
            assert await redis.zcard(inflight) == 1
        assert await redis.zcard(inflight) == 0
        assert await redis.keys(own.redis_key("polite", "host", "*")) == []
    finally:
        await redis.aclose()
