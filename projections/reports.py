"""The `reports` projection: the read models behind `GET /api/v1/reports/*` and
`backlynk reports`, one part per report, each owning its tables (DDL, `apply`,
`apply_batch` and its queries live in the part's module):

* `projections.report_usage` — quota units per job: reserved, used, released;
* `projections.report_directories` — per directory: outcomes, rates, time to a listing;
* `projections.report_backlinks` — backlinks discovered, lost and recovered, with when.

Parts own disjoint tables and read only their own, so the batch is split by part (each
keeps its events in log order) with the same effect as applying event by event."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

from projections import report_backlinks, report_directories, report_usage

PARTS: tuple[ModuleType, ...] = (report_usage, report_directories, report_backlinks)


class ReportsProjection:
    name = "reports"
    tables = tuple(table for part in PARTS for table in part.TABLES)
    ddl = tuple(statement for part in PARTS for statement in part.DDL)
    topics = tuple(dict.fromkeys(get_topic(c) for part in PARTS for c in part.EVENTS))

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        for part in PARTS:
            if type(event) in part.EVENTS:
                await part.apply(conn, event, notification_id)

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        for part in PARTS:
            mine = [(e, n) for e, n in events if type(e) in part.EVENTS]
            if mine:
                await part.apply_batch(conn, mine)
