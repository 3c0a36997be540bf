"""Report read model: quota units per job — reserved, used (consumed by a submission) and
released (a failed, skipped-at-run or canceled task gives its unit back) — with the job's
account, site and quota period, for `GET /api/v1/reports/usage` (per month or per site).

One row per job in `report_usage`, kept by the `reports` projection. A job's quota events
and its creation are saved together, in either order in the log: whichever comes first
makes the row, and `Job.Created` fills in the account, site and period. Units add up over
every event, so `reserved` is what the job ever reserved and `reserved - used - released`
what it still holds.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.job import Job
from domain.quota import Quota
from domain.reports import months
from projections.batch import Rows

EVENTS = (Job.Created, Quota.Reserved, Quota.Consumed, Quota.Released)

TABLES = ("report_usage",)

DDL = (
    """CREATE TABLE IF NOT EXISTS report_usage (
        job_id uuid PRIMARY KEY,
        account_id uuid,
        site_id uuid,
        period text,
        reserved integer NOT NULL,
        used integer NOT NULL,
        released integer NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS report_usage_account ON report_usage (account_id, period)",
)

#: the counter each quota event adds its units to
_COUNTER = {Quota.Reserved: "reserved", Quota.Consumed: "used", Quota.Released: "released"}


async def apply(conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
    if isinstance(event, Job.Created):
        await conn.execute(
            """INSERT INTO report_usage VALUES ($1, $2, $3, $4, 0, 0, 0)
               ON CONFLICT (job_id) DO UPDATE SET account_id = EXCLUDED.account_id,
                   site_id = EXCLUDED.site_id, period = EXCLUDED.period""",
            event.originator_id,
            event.account_id,
            event.site_id,
            event.period,
        )
        return
    counter = _COUNTER[type(event)]
    units = {name: event.units if name == counter else 0 for name in _COUNTER.values()}
    await conn.execute(
        f"""INSERT INTO report_usage (job_id, reserved, used, released) VALUES ($1, $2, $3, $4)
            ON CONFLICT (job_id) DO UPDATE SET
                {counter} = report_usage.{counter} + EXCLUDED.{counter}""",
        event.job_id,
        units["reserved"],
        units["used"],
        units["released"],
    )


def _key(event: Any) -> tuple[UUID]:
    return (event.originator_id,) if isinstance(event, Job.Created) else (event.job_id,)


async def apply_batch(conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
    """The same as `apply` for each event in turn, one write."""
    rows = Rows("report_usage", ("job_id",))
    await rows.load(conn, {_key(e) for e, _ in events})
    for event, _ in events:
        key = _key(event)
        row = rows.get(key)
        if isinstance(event, Job.Created):
            given = {"account_id": event.account_id, "site_id": event.site_id}
            given["period"] = event.period
        else:
            counter = _COUNTER[type(event)]
            rows.columns[counter].check(event.units)  # the parameter must take it
            given = {counter: (row[counter] if row else 0) + event.units}
        if row is None:
            rows.insert({"job_id": key[0], "reserved": 0, "used": 0, "released": 0, **given})
        else:
            rows.update(key, **given)
    await rows.write(conn)


class UsageRow(msgspec.Struct, frozen=True):
    """Units of one group: a month ("YYYY-MM", `site_id` None) or a site (`period` None)."""

    period: str | None
    site_id: UUID | None
    reserved: int
    used: int
    released: int


async def usage_by_month(conn: Any, account_id: UUID, first: str, last: str) -> list[UsageRow]:
    """Every month from `first` to `last` ("YYYY-MM", both included), oldest first,
    a month without a job with zeros."""
    found = {
        r["period"]: r
        for r in await conn.fetch(
            """SELECT period, sum(reserved) AS reserved, sum(used) AS used,
                      sum(released) AS released
               FROM report_usage WHERE account_id = $1 AND period BETWEEN $2 AND $3
               GROUP BY period""",
            account_id,
            first,
            last,
        )
    }
    out = []
    for period in months(first, last):
        r = found.get(period)
        out.append(
            UsageRow(period, None, *((r["reserved"], r["used"], r["released"]) if r else (0, 0, 0)))
        )
    return out


async def usage_by_site(conn: Any, account_id: UUID, first: str, last: str) -> list[UsageRow]:
    """Every site with a job in the months `first` to `last`, by site id, over the range."""
    return [
        UsageRow(None, r["site_id"], r["reserved"], r["used"], r["released"])
        for r in await conn.fetch(
            """SELECT site_id, sum(reserved) AS reserved, sum(used) AS used,
                      sum(released) AS released
               FROM report_usage WHERE account_id = $1 AND period BETWEEN $2 AND $3
               GROUP BY site_id ORDER BY site_id""",
            account_id,
            first,
            last,
        )
    ]
