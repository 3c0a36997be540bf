"""Read model: quota usage per account and calendar month (`users/me`, reports)."""

from __future__ import annotations

from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

from domain.quota import Quota


class UsageProjection:
    name = "usage"
    tables = ("usage",)
    topics = tuple(
        get_topic(c) for c in (Quota.Opened, Quota.Reserved, Quota.Consumed, Quota.Released)
    )
    ddl = (
        """CREATE TABLE IF NOT EXISTS usage (
            quota_id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            period text NOT NULL,
            used integer NOT NULL DEFAULT 0,
            reserved integer NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL,
            UNIQUE (account_id, period))""",
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, Quota.Opened):
            await conn.execute(
                "INSERT INTO usage VALUES ($1, $2, $3, 0, 0, $4)",
                event.originator_id,
                event.account_id,
                event.period,
                event.timestamp,
            )
            return
        used, reserved = {
            Quota.Reserved: (0, event.units),
            Quota.Consumed: (event.units, -event.units),
            Quota.Released: (0, -event.units),
        }[type(event)]
        await conn.execute(
            "UPDATE usage SET used = used + $2, reserved = reserved + $3, updated_at = $4 "
            "WHERE quota_id = $1",
            event.originator_id,
            used,
            reserved,
            event.timestamp,
        )
