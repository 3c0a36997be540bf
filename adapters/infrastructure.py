"""The real adapters, opened once per process and handed to entry points."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis

from adapters.clock import SystemClock
from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from adapters.fetcher import Fetcher
from adapters.hostnames import HostNameRules
from adapters.page_inspector import FetchingPageInspector
from adapters.quick_reads import QuickReads
from adapters.repository import EventSourcedRepository
from adapters.settings import Settings
from adapters.ssrf import AddressPolicy

log = logging.getLogger("backlynk.ssrf")


@dataclass
class Infrastructure:
    settings: Settings
    pool: asyncpg.Pool  # primary: event store, commands
    read_pool: asyncpg.Pool  # query tables (a replica in production)
    redis: Redis
    store: PostgresEventStore
    repository: EventSourcedRepository
    #: the one outbound HTTP fetcher of the process (its session opens on first use)
    fetcher: Fetcher
    clock: SystemClock
    host_names: HostNameRules
    #: one-statement reads of the read pool and of the primary, without the pool's
    #: per-query acquire and release (`adapters.quick_reads`): the hot reads use these
    reads: QuickReads = field(init=False)
    primary_reads: QuickReads = field(init=False)

    def __post_init__(self) -> None:
        self.primary_reads = QuickReads.over(self.pool)
        self.reads = (
            self.primary_reads if self.read_pool is self.pool else QuickReads.over(self.read_pool)
        )

    @property
    def page_inspector(self) -> FetchingPageInspector:
        return FetchingPageInspector(self.fetcher)

    async def close(self) -> None:
        await self.fetcher.close()
        await self.redis.aclose()
        await self.store.close()
        await self.reads.close()
        await self.primary_reads.close()
        if self.read_pool is not self.pool:
            await self.read_pool.close()
        await self.pool.close()


def warn_about_allow_list(settings: Settings) -> None:
    """The allow-list opens private networks to strangers' URLs: fine for a laptop or a
    test run, a hole in production — so every process that fetches says it out loud."""
    if settings.fetch_allow_cidrs:
        log.warning(
            "BACKLYNK_FETCH_ALLOW_CIDRS is set (%s): the fetcher may reach these networks on "
            "any port. This is a development and test switch; never set it in production.",
            ", ".join(settings.fetch_allow_cidrs),
        )


async def open_infrastructure(settings: Settings, *, pool_size: int = 10) -> Infrastructure:
    warn_about_allow_list(settings)
    pool = await connect_pool(settings.database_url, max_size=pool_size)
    read_pool = pool
    if settings.read_url != settings.database_url:
        read_pool = await connect_pool(settings.read_url, max_size=pool_size)
    redis = Redis.from_url(settings.redis_url)
    store = PostgresEventStore(pool)
    return Infrastructure(
        settings,
        pool,
        read_pool,
        redis,
        store,
        EventSourcedRepository(store),
        fetcher=Fetcher(AddressPolicy(settings.allowed_networks())),
        clock=SystemClock(),
        host_names=HostNameRules(),
    )
