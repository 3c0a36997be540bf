"""Read model: backlinks with their latest evidence (`GET /backlinks`, CSV, reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.backlink import LIVE, LOST, Backlink, Evidence
from projections.batch import Rows, as_columns
from projections.views import by_name, columns, convert, insert, placeholder, values


class BacklinksProjection:
    name = "backlinks"
    tables = ("backlinks",)
    topics = tuple(
        get_topic(c)
        for c in (Backlink.Discovered, Backlink.Checked, Backlink.Lost, Backlink.Recovered)
    )
    ddl = (
        """CREATE TABLE IF NOT EXISTS backlinks (
            id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            site_id uuid NOT NULL,
            directory_id integer NOT NULL,
            job_id uuid NOT NULL,
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
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        e = event.evidence
        if isinstance(event, Backlink.Discovered):
            row = by_name(
                BacklinkRow,
                e,
                id=event.originator_id,
                site_id=event.site_id,
                directory_id=event.directory_id,
                job_id=event.job_id,
                status=LIVE,
                first_seen_at=event.timestamp,
                last_checked_at=event.timestamp,
                lost_at=None,
                seq=notification_id,
            )
            await insert(conn, "backlinks", [row], account_id=event.account_id)
            return
        status = {Backlink.Lost: LOST, Backlink.Recovered: LIVE}.get(type(event))
        await conn.execute(
            f"""UPDATE backlinks SET last_checked_at = $2,
                   status = coalesce($3, status),
                   lost_at = CASE WHEN $3 = 'lost' THEN $2 WHEN $3 = 'live' THEN NULL
                                  ELSE lost_at END,
                   {_SET_EVIDENCE}
               WHERE id = $1""",
            event.originator_id,
            event.timestamp,
            status,
            *values(BacklinkView, e, _EVIDENCE),
        )

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write (`projections.batch`)."""
        rows = Rows("backlinks", ("id",))
        await rows.load(conn, {(e.originator_id,) for e, _ in events})
        for event, notification_id in events:
            key, e = (event.originator_id,), event.evidence
            if isinstance(event, Backlink.Discovered):
                row = by_name(
                    BacklinkRow,
                    e,
                    id=event.originator_id,
                    site_id=event.site_id,
                    directory_id=event.directory_id,
                    job_id=event.job_id,
                    status=LIVE,
                    first_seen_at=event.timestamp,
                    last_checked_at=event.timestamp,
                    lost_at=None,
                    seq=notification_id,
                )
                rows.insert(as_columns(row, account_id=event.account_id))
                continue
            status = {Backlink.Lost: LOST, Backlink.Recovered: LIVE}.get(type(event))
            row = rows.get(key)
            lost_at = row and row["lost_at"]
            if status == LOST:
                lost_at = event.timestamp
            elif status == LIVE:
                lost_at = None
            rows.update(
                key,
                last_checked_at=event.timestamp,
                status=status or (row and row["status"]),
                lost_at=lost_at,
                **dict(zip(_EVIDENCE, values(BacklinkView, e, _EVIDENCE), strict=True)),
            )
        await rows.write(conn)


class BacklinkView(msgspec.Struct, frozen=True):
    """A backlink as the read model shows it; the API's `BacklinkOut` is this with
    public ids."""

    id: UUID
    site_id: UUID
    directory_id: int
    job_id: UUID
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


#: what each check rewrites: the columns the evidence carries, from $4 on
_EVIDENCE = [n for n in BacklinkView.__struct_fields__ if n in Evidence.__struct_fields__]
_SET_EVIDENCE = ", ".join(
    f"{n} = {placeholder(BacklinkView, n, i)}" for i, n in enumerate(_EVIDENCE, start=4)
)


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
