"""Read model `usage`: submissions used and reserved per account and billing period.

Quota events arrive with the jobs (issue 5): reserving, consuming and releasing units
will be applied here. Until then no event changes a row, every account reads zero, and
`apply` has nothing to do — the table and the query are in place so that `users/me`
already reads the model it will keep reading.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.utils import get_topic

from domain.account import Account
from domain.usage import Period

DDL = (
    """CREATE TABLE IF NOT EXISTS usage (
        account_id uuid NOT NULL,
        period_start timestamptz NOT NULL,
        used integer NOT NULL DEFAULT 0,
        reserved integer NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, period_start))""",
)


class UsageProjection:
    name = "usage"
    ddl = DDL
    tables = ("usage",)
    # an empty tuple would mean "every event"; until quota events exist, listen to one
    # rare event and ignore it
    topics = (get_topic(Account.Registered),)

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        return None


async def usage_in(conn: Any, account_id: UUID, period: Period) -> tuple[int, int]:
    """(used, reserved) of `account_id` in `period`; zeros when nothing happened."""
    row = await conn.fetchrow(
        "SELECT used, reserved FROM usage WHERE account_id = $1 AND period_start = $2",
        account_id,
        period.start,
    )
    return (row["used"], row["reserved"]) if row else (0, 0)
