"""Report read model: backlinks live, lost and recovered over time, per day or per week
(`GET /api/v1/reports/backlinks`).

`report_link_changes` holds one row per change of a backlink's life — `discovered`,
`lost`, `recovered` — at its instant, with the link's account and site (taken from its
discovery, the change's own event not naming them), kept by the `reports` projection.

A link the customer added by hand (`Backlink.Added`, `pending`) is not live until a check
finds it: it waits in `report_link_pending` (its account and site) and is `discovered` at
its first check whose status is `live` (a `Checked` from pending or unreachable, or a
`Recovered` if it was lost before ever being found). Until then its checks count nowhere:
a hand-added link lost before it was ever found was never live, so its loss is no change.

A change of a backlink whose discovery this projection never saw is left out. An
`unreachable` link (`BecameUnreachable`) is not lost: nothing was read, so it stays counted
as live until a check loses it (that event is not read here).

For each bucket (a UTC day, or an ISO week from Monday 00:00 UTC):
`live` is the number of backlinks live at the bucket's end (discovered + recovered − lost
up to then), `discovered`, `lost` and `recovered` the changes within it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.backlink import LIVE, Backlink

EVENTS = (
    Backlink.Discovered,
    Backlink.Added,
    Backlink.Checked,
    Backlink.Lost,
    Backlink.Recovered,
)

TABLES = ("report_link_changes", "report_link_pending")

DDL = (
    """CREATE TABLE IF NOT EXISTS report_link_changes (
        position bigint PRIMARY KEY,
        backlink_id uuid NOT NULL,
        account_id uuid NOT NULL,
        site_id uuid NOT NULL,
        at timestamptz NOT NULL,
        change text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS report_link_changes_account ON report_link_changes "
    "(account_id, at)",
    "CREATE INDEX IF NOT EXISTS report_link_changes_link ON report_link_changes "
    "(backlink_id, position)",
    # hand-added links not found yet (a row goes once the link is discovered)
    """CREATE TABLE IF NOT EXISTS report_link_pending (
        backlink_id uuid PRIMARY KEY,
        account_id uuid NOT NULL,
        site_id uuid NOT NULL)""",
)

DISCOVERED, LOST, RECOVERED = "discovered", "lost", "recovered"
_CHANGE = {Backlink.Discovered: DISCOVERED, Backlink.Lost: LOST, Backlink.Recovered: RECOVERED}
#: what each change adds to the number of live backlinks
LIVE_DELTA = {DISCOVERED: 1, LOST: -1, RECOVERED: 1}

_COLUMNS = "position, backlink_id, account_id, site_id, at, change"


def _finds_pending(event: Any) -> bool:
    """Whether the event may be a pending link's first finding (a check that says live)."""
    return isinstance(event, Backlink.Checked | Backlink.Recovered) and event.status == LIVE


async def apply(conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
    if isinstance(event, Backlink.Added):
        await conn.execute(
            "INSERT INTO report_link_pending (backlink_id, account_id, site_id) "
            "VALUES ($1, $2, $3) ON CONFLICT (backlink_id) DO NOTHING",
            event.originator_id,
            event.account_id,
            event.site_id,
        )
        return
    if _finds_pending(event):
        found = await conn.execute(
            f"""WITH found AS (DELETE FROM report_link_pending WHERE backlink_id = $2
                               RETURNING backlink_id, account_id, site_id)
                INSERT INTO report_link_changes ({_COLUMNS})
                SELECT $1, backlink_id, account_id, site_id, $3, '{DISCOVERED}' FROM found""",
            notification_id,
            event.originator_id,
            event.timestamp,
        )
        if found != "INSERT 0 0":
            return
    if isinstance(event, Backlink.Checked):
        return
    change = _CHANGE[type(event)]
    if change == DISCOVERED:
        await conn.execute(
            f"INSERT INTO report_link_changes ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
            notification_id,
            event.originator_id,
            event.account_id,
            event.site_id,
            event.timestamp,
            change,
        )
        return
    await conn.execute(
        f"""INSERT INTO report_link_changes ({_COLUMNS})
            SELECT $1, backlink_id, account_id, site_id, $3, $4 FROM report_link_changes
            WHERE backlink_id = $2 AND change = '{DISCOVERED}' ORDER BY position LIMIT 1""",
        notification_id,
        event.originator_id,
        event.timestamp,
        change,
    )


async def apply_batch(conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
    """The same as `apply` for each event in turn, one write."""
    links = list({e.originator_id for e, _ in events})
    owners: dict[UUID, tuple[UUID, UUID]] = {
        r["backlink_id"]: (r["account_id"], r["site_id"])
        for r in await conn.fetch(
            f"""SELECT DISTINCT ON (backlink_id) backlink_id, account_id, site_id
                FROM report_link_changes
                WHERE backlink_id = ANY($1::uuid[]) AND change = '{DISCOVERED}'
                ORDER BY backlink_id, position""",
            links,
        )
    }
    stored_pending = {
        r["backlink_id"]: (r["account_id"], r["site_id"])
        for r in await conn.fetch(
            "SELECT backlink_id, account_id, site_id FROM report_link_pending "
            "WHERE backlink_id = ANY($1::uuid[])",
            links,
        )
    }
    pending = dict(stored_pending)
    rows: list[tuple] = []
    for event, position in events:
        if isinstance(event, Backlink.Added):
            pending.setdefault(event.originator_id, (event.account_id, event.site_id))
            continue
        if _finds_pending(event) and (owner := pending.pop(event.originator_id, None)):
            owners.setdefault(event.originator_id, owner)
            rows.append((position, event.originator_id, *owner, event.timestamp, DISCOVERED))
            continue
        if isinstance(event, Backlink.Checked):
            continue
        change = _CHANGE[type(event)]
        if change == DISCOVERED:
            owners.setdefault(event.originator_id, (event.account_id, event.site_id))
            owner = (event.account_id, event.site_id)
        elif (owner := owners.get(event.originator_id)) is None:
            continue  # as the INSERT ... SELECT that finds no discovery
        rows.append((position, event.originator_id, *owner, event.timestamp, change))
    # rows that changed (found, or found and added again) go, and their new values come
    gone = [link for link, owner in stored_pending.items() if pending.get(link) != owner]
    if gone:
        await conn.execute(
            "DELETE FROM report_link_pending WHERE backlink_id = ANY($1::uuid[])", gone
        )
    new = [(link, *owner) for link, owner in pending.items() if stored_pending.get(link) != owner]
    if new:
        await conn.execute(
            """INSERT INTO report_link_pending (backlink_id, account_id, site_id)
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[])""",
            *[list(column) for column in zip(*new, strict=True)],
        )
    if rows:
        await conn.execute(
            f"""INSERT INTO report_link_changes ({_COLUMNS})
                SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::uuid[],
                                     $5::timestamptz[], $6::text[])""",
            *[list(column) for column in zip(*rows, strict=True)],
        )


INTERVALS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}


def bucket_start(moment: datetime, interval: str) -> datetime:
    """The start of the UTC day, or of the ISO week (Monday), that holds `moment`."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if interval == "week" else day


class LinkBucket(msgspec.Struct, frozen=True):
    start: datetime
    live: int
    discovered: int
    lost: int
    recovered: int


async def backlinks_over_time(
    conn: Any,
    account_id: UUID,
    site_id: UUID | None,
    interval: str,
    since: datetime,
    until: datetime,
) -> list[LinkBucket]:
    """The buckets from the one holding `since` to the one holding `until`, oldest first,
    for one account's backlinks (of one site when `site_id` is given)."""
    step = INTERVALS[interval]
    first, last = bucket_start(since, interval), bucket_start(until, interval)
    end = last + step
    scope = "account_id = $1 AND ($2::uuid IS NULL OR site_id = $2)"
    live = await conn.fetchval(
        f"""SELECT coalesce(sum(CASE change WHEN '{LOST}' THEN -1 ELSE 1 END), 0)
            FROM report_link_changes WHERE {scope} AND at < $3""",
        account_id,
        site_id,
        first,
    )
    counts: dict[tuple[datetime, str], int] = {}
    for r in await conn.fetch(
        f"""SELECT date_trunc($5, at AT TIME ZONE 'UTC') AS bucket, change, count(*) AS n
            FROM report_link_changes WHERE {scope} AND at >= $3 AND at < $4
            GROUP BY 1, 2""",
        account_id,
        site_id,
        first,
        end,
        interval,
    ):
        counts[(r["bucket"].replace(tzinfo=UTC), r["change"])] = r["n"]
    out = []
    start = first
    while start <= last:
        made = {c: counts.get((start, c), 0) for c in LIVE_DELTA}
        live += sum(LIVE_DELTA[c] * n for c, n in made.items())
        out.append(LinkBucket(start, live, made[DISCOVERED], made[LOST], made[RECOVERED]))
        start += step
    return out
