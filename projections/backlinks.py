"""Read model: backlinks with their latest evidence (`GET /backlinks`, CSV, reports), and
every check of each (`backlink_checks`, `projections.backlink_checks`): one projection
owns both tables and applies an event to both in one transaction, so a reader that reads
both in one snapshot (`backlink_with_checks`) never sees a check the row's status does
not reflect, nor a status without its check.

A backlink added to monitoring (`Backlink.Added`) has no job and no directory (NULL), is
`pending` until its first check, and its `first_seen_at` / `last_checked_at` are when it
was added until that check."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.backlink import LIVE, LOST, PENDING, Backlink, Evidence
from projections import backlink_checks
from projections.backlink_checks import CheckRow
from projections.base import Owners
from projections.batch import Rows, as_columns
from projections.views import by_name, columns, convert, insert, placeholder, values


class BacklinksProjection:
    name = "backlinks"
    owners = Owners("backlinks", "id", "account_id")
    tables = ("backlinks", *backlink_checks.TABLES)
    topics = tuple(
        get_topic(c)
        for c in (
            Backlink.Discovered,
            Backlink.Added,
            Backlink.Checked,
            Backlink.Lost,
            Backlink.Recovered,
            Backlink.BecameUnreachable,
        )
    )
    ddl = (
        """CREATE TABLE IF NOT EXISTS backlinks (
            id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            site_id uuid NOT NULL,
            directory_id integer,
            job_id uuid,
            source_url text NOT NULL,
            target_url text,
            anchor_text text,
            link_type text,
            rel_attributes jsonb NOT NULL,
            http_status integer,
            indexable boolean NOT NULL,
            status text NOT NULL,
            first_seen_at timestamptz NOT NULL,
            last_checked_at timestamptz NOT NULL,
            lost_at timestamptz,
            seq bigint NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS backlinks_account_seq ON backlinks (account_id, seq DESC)",
        # the re-check cron looks at live and lost links alike (a lost one may return)
        "DROP INDEX IF EXISTS backlinks_live",
        "CREATE INDEX IF NOT EXISTS backlinks_last_checked ON backlinks (last_checked_at)",
        # backlinks added to monitoring have neither (tables made before them had NOT NULL)
        "ALTER TABLE backlinks ALTER COLUMN directory_id DROP NOT NULL",
        "ALTER TABLE backlinks ALTER COLUMN job_id DROP NOT NULL",
        # duplicate check of `POST /backlinks` (same site and page)
        "CREATE INDEX IF NOT EXISTS backlinks_site_source ON backlinks (site_id, source_url)",
        *backlink_checks.DDL,
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        await _apply(conn, event, notification_id)
        if isinstance(event, backlink_checks.EVENTS):
            await backlink_checks.apply(conn, event, notification_id)

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write per table
        (`projections.batch`). Each table is folded from its own rows alone, so applying
        one table's events before the other's has the per-event path's effect."""
        await _apply_batch(conn, events)
        checks = [(e, n) for e, n in events if isinstance(e, backlink_checks.EVENTS)]
        if checks:
            await backlink_checks.apply_batch(conn, checks)


async def _apply(conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
    """`apply` on the `backlinks` table."""
    if isinstance(event, Backlink.Discovered | Backlink.Added):
        row = _created(event, notification_id)
        await insert(conn, "backlinks", [row], account_id=event.account_id)
        return
    await conn.execute(
        f"""UPDATE backlinks SET last_checked_at = $2, status = $3,
               lost_at = CASE WHEN $4 THEN $2 WHEN $3 IS DISTINCT FROM 'lost' THEN NULL
                              ELSE lost_at END,
               {_SET_EVIDENCE}
           WHERE id = $1""",
        event.originator_id,
        event.timestamp,
        event.status,
        isinstance(event, Backlink.Lost),
        *_evidence(event).values(),
    )


async def _apply_batch(conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
    """`apply_batch` on the `backlinks` table."""
    rows = Rows("backlinks", ("id",))
    await rows.load(conn, {(e.originator_id,) for e, _ in events})
    for event, notification_id in events:
        key = (event.originator_id,)
        if isinstance(event, Backlink.Discovered | Backlink.Added):
            row = _created(event, notification_id)
            rows.insert(as_columns(row, account_id=event.account_id))
            continue
        row = rows.get(key)
        lost_at = row and row["lost_at"]
        if isinstance(event, Backlink.Lost):
            lost_at = event.timestamp
        elif event.status != LOST:
            lost_at = None
        rows.update(
            key,
            last_checked_at=event.timestamp,
            status=event.status,
            lost_at=lost_at,
            **_evidence(event),
        )
    await rows.write(conn)


class BacklinkView(msgspec.Struct, frozen=True):
    """A backlink as the read model shows it; the API's `BacklinkOut` is this with
    public ids."""

    id: UUID
    site_id: UUID
    directory_id: int | None
    job_id: UUID | None
    source_url: str
    target_url: str | None
    anchor_text: str | None
    link_type: str | None
    rel_attributes: list[str]
    http_status: int | None
    indexable: bool
    status: str
    first_seen_at: datetime
    last_checked_at: datetime
    lost_at: datetime | None


class BacklinkRow(BacklinkView, frozen=True):
    """A row of `backlinks`: the view and its cursor key."""

    seq: int


#: what each check rewrites: the columns the evidence carries, from $5 on
_EVIDENCE = [n for n in BacklinkView.__struct_fields__ if n in Evidence.__struct_fields__]
_SET_EVIDENCE = ", ".join(
    f"{n} = {placeholder(BacklinkView, n, i)}" for i, n in enumerate(_EVIDENCE, start=5)
)


def _created(event: Backlink.Discovered | Backlink.Added, notification_id: int) -> BacklinkRow:
    """The row a discovery or an addition creates (both apply paths)."""
    if isinstance(event, Backlink.Added):
        evidence = Evidence(source_url=event.page_url, has_link=False)
        found: dict[str, Any] = {"directory_id": None, "job_id": None, "status": PENDING}
    else:
        evidence = event.evidence
        found = {"directory_id": event.directory_id, "job_id": event.job_id, "status": LIVE}
    return by_name(
        BacklinkRow,
        evidence,
        id=event.originator_id,
        site_id=event.site_id,
        first_seen_at=event.timestamp,
        last_checked_at=event.timestamp,
        lost_at=None,
        seq=notification_id,
        **found,
    )


def _evidence(event: Any) -> dict[str, Any]:
    """The evidence columns an event rewrites, in `_EVIDENCE` order, as bound."""
    return dict(zip(_EVIDENCE, values(BacklinkView, event.evidence, _EVIDENCE), strict=True))


async def list_backlinks(
    conn: Any,
    account_id: UUID,
    *,
    site_id: UUID | None,
    status: str | None,
    link_type: str | None,
    limit: int,
    before: int | None,
) -> list[BacklinkRow]:
    rows = await conn.fetch(
        f"""SELECT {columns(BacklinkRow)} FROM backlinks WHERE account_id = $1
            AND ($2::uuid IS NULL OR site_id = $2) AND ($3::text IS NULL OR status = $3)
            AND ($4::text IS NULL OR link_type = $4) AND ($5::bigint IS NULL OR seq < $5)
            ORDER BY seq DESC LIMIT $6""",
        account_id,
        site_id,
        status,
        link_type,
        before,
        limit,
    )
    return [convert(r, BacklinkRow) for r in rows]


async def get_backlink(conn: Any, account_id: UUID, backlink_id: UUID) -> BacklinkRow | None:
    """The account's backlink (None for another account's, as for an unknown one)."""
    row = await conn.fetchrow(
        f"SELECT {columns(BacklinkRow)} FROM backlinks WHERE id = $1 AND account_id = $2",
        backlink_id,
        account_id,
    )
    return convert(row, BacklinkRow) if row else None


async def backlink_with_checks(
    conn: Any, account_id: UUID, backlink_id: UUID
) -> tuple[BacklinkRow, list[CheckRow], int] | None:
    """The account's backlink with its newest checks and their count
    (`backlink_checks.history`), read in one snapshot: the checks are those its status
    reflects. None for another account's backlink, as for an unknown one."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        row = await get_backlink(conn, account_id, backlink_id)
        if row is None:
            return None
        checks, total = await backlink_checks.history(conn, backlink_id)
    return row, checks, total
