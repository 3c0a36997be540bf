"""Read model `backlink_checks`: every check of every backlink — when, the status after
it, its outcome, the failed checks in a row and what changed (`GET /backlinks/{id}`).

The discovery is the first check (the listing was found with the link); a backlink added
to monitoring has none until its first check. Checks stored before outcomes and changes
were recorded come upcast (`domain.backlink`): outcome from the evidence, no changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.backlink import FOUND, LIVE, Backlink
from projections.batch import NewRows, as_columns
from projections.views import columns, convert, insert

#: the newest checks `GET /backlinks/{id}` shows
HISTORY_LIMIT = 100


class CheckView(msgspec.Struct, frozen=True):
    """One check as the read model keeps it; `event` is what it recorded (`Lost`, ...)."""

    checked_at: datetime
    event: str
    status: str
    outcome: str
    failures: int
    http_status: int | None
    error: str | None
    #: `domain.backlink.Change`s as plain objects ({field, before, after})
    changes: list[dict[str, Any]]


class CheckRow(CheckView, frozen=True):
    backlink_id: UUID
    version: int
    position: int


class BacklinkChecksProjection:
    name = "backlink_checks"
    tables = ("backlink_checks",)
    topics = tuple(
        get_topic(c)
        for c in (
            Backlink.Discovered,
            Backlink.Checked,
            Backlink.Lost,
            Backlink.Recovered,
            Backlink.BecameUnreachable,
        )
    )
    ddl = (
        """CREATE TABLE IF NOT EXISTS backlink_checks (
            backlink_id uuid NOT NULL,
            version bigint NOT NULL,
            position bigint NOT NULL,
            checked_at timestamptz NOT NULL,
            event text NOT NULL,
            status text NOT NULL,
            outcome text NOT NULL,
            failures integer NOT NULL,
            http_status integer,
            error text,
            changes jsonb NOT NULL,
            PRIMARY KEY (backlink_id, version))""",
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        await insert(conn, "backlink_checks", [_row(event, notification_id)])

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write (`projections.batch`:
        a check is only ever added, so nothing is read first)."""
        rows = NewRows("backlink_checks", ("backlink_id", "version"))
        await rows.load(conn)
        for event, notification_id in events:
            rows.insert(as_columns(_row(event, notification_id)))
        await rows.write(conn)


def _row(event: Any, notification_id: int) -> CheckRow:
    evidence = event.evidence
    if isinstance(event, Backlink.Discovered):
        kept: dict[str, Any] = {"status": LIVE, "outcome": FOUND, "failures": 0, "changes": []}
    else:
        kept = {
            "status": event.status,
            "outcome": event.outcome,
            "failures": event.failures,
            "changes": msgspec.to_builtins(event.changes),
        }
    return CheckRow(
        backlink_id=event.originator_id,
        version=event.originator_version,
        position=notification_id,
        checked_at=event.timestamp,
        event=type(event).__name__,
        http_status=evidence.http_status if evidence else None,
        error=evidence.error if evidence else None,
        **kept,
    )


async def history(conn: Any, backlink_id: UUID, until: datetime) -> tuple[list[CheckRow], int]:
    """The newest `HISTORY_LIMIT` checks up to `until`, newest first, and how many there
    are in all. `until` is the last check the `backlinks` row has seen: this read model
    is another projection's and may be ahead of it, and a check the row's status does not
    reflect yet would contradict it in one answer."""
    rows = await conn.fetch(
        f"""SELECT {columns(CheckRow)} FROM backlink_checks
            WHERE backlink_id = $1 AND checked_at <= $2
            ORDER BY version DESC LIMIT {HISTORY_LIMIT}""",
        backlink_id,
        until,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM backlink_checks WHERE backlink_id = $1 AND checked_at <= $2",
        backlink_id,
        until,
    )
    return [convert(r, CheckRow) for r in rows], total
