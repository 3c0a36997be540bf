"""The operator's choice of delivery examples (the `delivery_examples` table), and what
the read models say of each chosen backlink now.

Why a table and not events: the choice is the operator's curation of a public page, not
something that happened to an account — no aggregate's rule depends on it, no customer
sees it in their history, and replaying the event store must not be needed to know what
the public page shows. Like the directory catalogue (reference data) and
`projection_skips` (`projections.stalls`, the operator's other decision), it is written
by the CLI directly, and it keeps its own audit: who added each example and when, who
removed it and when (a removed row stays; a backlink is shown at most once at a time).

What the public page shows of a choice is read from the read models at once (backlinks,
sites, directories), so an example always shows the latest check of its listing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from uuid import UUID

import asyncpg

from domain.directory import dr_tier
from domain.showcase import DuplicateExample, ExampleChoice, ExampleFacts, UnknownExample
from projections.views import columns, convert

DDL = (
    """CREATE TABLE IF NOT EXISTS delivery_examples (
        id uuid PRIMARY KEY,
        backlink_id uuid NOT NULL,
        note text,
        added_by text NOT NULL,
        added_at timestamptz NOT NULL,
        removed_by text,
        removed_at timestamptz)""",
    # a backlink is shown at most once; removed choices stay as the audit trail
    "CREATE UNIQUE INDEX IF NOT EXISTS delivery_examples_shown ON delivery_examples "
    "(backlink_id) WHERE removed_at IS NULL",
)

_CHOICE = columns(ExampleChoice)


class PostgresExampleChoices:
    """Implements `domain.ports.ExampleChoices`."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def add(
        self, backlink_id: UUID, note: str | None, added_by: str, at: datetime
    ) -> ExampleChoice:
        try:
            row = await self.pool.fetchrow(
                f"""INSERT INTO delivery_examples (id, backlink_id, note, added_by, added_at)
                    VALUES ($1, $2, $3, $4, $5) RETURNING {_CHOICE}""",
                uuid.uuid4(),
                backlink_id,
                note,
                added_by,
                at,
            )
        except asyncpg.UniqueViolationError:
            raise DuplicateExample(
                f"backlink {backlink_id.hex} is a delivery example already"
            ) from None
        return convert(row, ExampleChoice)

    async def remove(self, example_id: UUID, removed_by: str, at: datetime) -> ExampleChoice:
        row = await self.pool.fetchrow(
            f"""UPDATE delivery_examples SET removed_by = $2, removed_at = $3
                WHERE id = $1 AND removed_at IS NULL RETURNING {_CHOICE}""",
            example_id,
            removed_by,
            at,
        )
        if row is None:
            raise UnknownExample(f"no delivery example {example_id.hex} is shown")
        return convert(row, ExampleChoice)

    async def facts(self) -> list[ExampleFacts]:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            rows = await conn.fetch(
                f"""SELECT {", ".join("e." + c for c in ExampleChoice.__struct_fields__)},
                       b.status, b.source_url, b.target_url, b.anchor_text, b.link_type,
                       b.rel_attributes::text AS rel_attributes, b.http_status, b.indexable,
                       b.last_checked_at, d.category, d.domain_rating,
                       s.name AS site_name, s.domain AS site_domain
                    FROM delivery_examples e
                    JOIN backlinks b ON b.id = e.backlink_id
                    JOIN directories d ON d.id = b.directory_id
                    JOIN sites s ON s.id = b.site_id
                    WHERE e.removed_at IS NULL ORDER BY e.added_at DESC, e.id"""
            )
            active = await conn.fetch(
                "SELECT category, domain_rating FROM directories WHERE status = 'active'"
            )
        peers = Counter((r["category"], dr_tier(r["domain_rating"])) for r in active)
        out = []
        for r in rows:
            values = dict(r)
            choice = convert(
                {k: values.pop(k) for k in ExampleChoice.__struct_fields__}, ExampleChoice
            )
            out.append(
                convert(
                    values,
                    ExampleFacts,
                    choice=choice,
                    peers=peers[(values["category"], dr_tier(values["domain_rating"]))],
                )
            )
        return out
