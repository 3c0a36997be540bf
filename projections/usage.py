"""Read model: quota usage per account and calendar month (`users/me`, reports)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.utils import get_topic

from domain.quota import Quota
from projections.base import Owners
from projections.batch import Refused, Rows


class UsageProjection:
    name = "usage"
    owners = Owners("usage", "quota_id", "account_id")
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
        used, reserved = _deltas(event)
        await conn.execute(
            "UPDATE usage SET used = used + $2, reserved = reserved + $3, updated_at = $4 "
            "WHERE quota_id = $1",
            event.originator_id,
            used,
            reserved,
            event.timestamp,
        )

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write (`projections.batch`)."""
        rows = Rows("usage", ("quota_id",))
        await rows.load(conn, {(e.originator_id,) for e, _ in events})
        for event, _ in events:
            key = (event.originator_id,)
            if isinstance(event, Quota.Opened):
                # a second quota of the same account and period fails at the write (UNIQUE)
                rows.insert(
                    {
                        "quota_id": event.originator_id,
                        "account_id": event.account_id,
                        "period": event.period,
                        "used": 0,
                        "reserved": 0,
                        "updated_at": event.timestamp,
                    }
                )
                continue
            used, reserved = _deltas(event)
            _units(used), _units(reserved)
            if (row := rows.get(key)) is not None:
                used, reserved = row["used"] + used, row["reserved"] + reserved
            rows.update(key, used=used, reserved=reserved, updated_at=event.timestamp)
        await rows.write(conn)


def _deltas(event: Any) -> tuple[Any, Any]:
    """What a reservation, consumption or release adds to (used, reserved)."""
    return {
        Quota.Reserved: (0, event.units),
        Quota.Consumed: (event.units, -event.units),
        Quota.Released: (0, -event.units),
    }[type(event)]


def _units(units: Any) -> None:
    """Refuse what the UPDATE's integer parameter could not take."""
    if type(units) is not int or not -(2**31) <= units < 2**31:
        raise Refused(f"{units!r} units")


async def usage_in(conn: Any, account_id: UUID, period: str) -> tuple[int, int]:
    """(used, reserved) of `account_id` in `period` ("YYYY-MM"); zeros before its quota
    has been opened (no job yet this month)."""
    row = await conn.fetchrow(
        "SELECT used, reserved FROM usage WHERE account_id = $1 AND period = $2",
        account_id,
        period,
    )
    return (row["used"], row["reserved"]) if row else (0, 0)
