"""Read model: sites, as `GET /sites` lists them."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.site import Site


class SitesProjection:
    name = "sites"
    tables = ("sites",)
    topics = tuple(get_topic(c) for c in (Site.Registered, Site.Updated, Site.Archived))
    ddl = (
        """CREATE TABLE IF NOT EXISTS sites (
            id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            url text NOT NULL,
            domain text NOT NULL,
            name text NOT NULL,
            description text,
            category text,
            keywords jsonb NOT NULL,
            contact_email text,
            status text NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            -- notification id of the creation: ids are given in commit order, so a cursor
            -- over seq never misses a row committed while a client pages
            seq bigint NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS sites_account_seq ON sites (account_id, seq DESC)",
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, Site.Registered):
            await conn.execute(
                """INSERT INTO sites VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9,
                   'active', $10, $10, $11)""",
                event.originator_id,
                event.account_id,
                event.url,
                event.domain,
                event.name,
                event.description,
                event.category,
                msgspec.json.encode(event.keywords).decode(),
                event.contact_email,
                event.timestamp,
                notification_id,
            )
        elif isinstance(event, Site.Updated):
            changes = dict(event.changes)
            if "keywords" in changes:
                changes["keywords"] = msgspec.json.encode(changes["keywords"]).decode()
            allowed = ("name", "description", "category", "keywords", "contact_email")
            sets = [
                f"{k} = ${i + 3}" + ("::jsonb" if k == "keywords" else "")
                for i, k in enumerate(c for c in changes if c in allowed)
            ]
            values = [changes[k] for k in changes if k in allowed]
            await conn.execute(
                f"UPDATE sites SET updated_at = $2{''.join(', ' + s for s in sets)} WHERE id = $1",
                event.originator_id,
                event.timestamp,
                *values,
            )
        elif isinstance(event, Site.Archived):
            await conn.execute(
                "UPDATE sites SET status = 'archived', updated_at = $2 WHERE id = $1",
                event.originator_id,
                event.timestamp,
            )
