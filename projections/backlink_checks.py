"""Table `backlink_checks` of the `backlinks` projection (`projections.backlinks`): every
check of every backlink — when, the status after it, its outcome, the failed checks in a
row and what changed (`GET /backlinks/{id}`). The projection applies an event to both of
its tables in one transaction, so a check is in this table exactly when the `backlinks`
row reflects it.

The discovery is the first check (the listing was found with the link); a backlink added
to monitoring has none until its first check. Checks stored before outcomes and changes
were recorded come upcast (`domain.backlink`): outcome from the evidence, no changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

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


#: the events that are checks (an addition to monitoring is none)
EVENTS = (
    Backlink.Discovered,
    Backlink.Checked,
    Backlink.Lost,
    Backlink.Recovered,
    Backlink.BecameUnreachable,
)
TABLES = ("backlink_checks",)
DDL = (
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


async def apply(conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
    await insert(conn, "backlink_checks", [_row(event, notification_id)])


async def apply_batch(conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
    """The same as `apply` for each event in turn, with one write (`projections.batch`: a
    check is only ever added, so nothing is read first)."""
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


async def history(conn: Any, backlink_id: UUID) -> tuple[list[CheckRow], int]:
    """The newest `HISTORY_LIMIT` checks, newest first, and how many there are in all.
    Read in the snapshot that read the `backlinks` row (`projections.backlinks.detail`),
    they are the checks its status reflects: one projection writes both tables in one
    transaction."""
    rows = await conn.fetch(
        f"""SELECT {columns(CheckRow)} FROM backlink_checks
            WHERE backlink_id = $1 ORDER BY version DESC LIMIT {HISTORY_LIMIT}""",
        backlink_id,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM backlink_checks WHERE backlink_id = $1", backlink_id
    )
    return [convert(r, CheckRow) for r in rows], total
