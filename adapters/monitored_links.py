"""What the `backlinks` read model knows of an account's monitored links (implements
`domain.ports.MonitoredLinks`), read on the primary: a limit must not be judged on a
lagging replica."""

from __future__ import annotations

from uuid import UUID

import asyncpg


class PostgresMonitoredLinks:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def count(self, account_id: UUID) -> int:
        return await self.pool.fetchval(
            "SELECT count(*) FROM backlinks WHERE account_id = $1", account_id
        )

    async def on_page(self, site_id: UUID, page_url: str) -> UUID | None:
        return await self.pool.fetchval(
            "SELECT id FROM backlinks WHERE site_id = $1 AND source_url = $2 LIMIT 1",
            site_id,
            page_url,
        )
