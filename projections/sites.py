"""Read model: sites, as `GET /sites` lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

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


class SiteRow(msgspec.Struct, frozen=True):
    id: UUID
    url: str
    domain: str
    name: str
    description: str | None
    category: str | None
    keywords: list[str]
    contact_email: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    seq: int


_COLUMNS = (
    "id, url, domain, name, description, category, keywords::text, contact_email, "
    "status, created_at, updated_at, seq"
)


def _row(r: Any) -> SiteRow:
    values = list(r)
    values[6] = msgspec.json.decode(values[6])
    return SiteRow(*values)


async def get_site(conn: Any, account_id: UUID, site_id: UUID) -> SiteRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM sites WHERE id = $1 AND account_id = $2", site_id, account_id
    )
    return _row(row) if row else None


async def list_sites(
    conn: Any, account_id: UUID, *, status: str | None, limit: int, before: int | None
) -> list[SiteRow]:
    """Newest first by commit order (`seq`), after the cursor."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM sites WHERE account_id = $1
            AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR seq < $3)
            ORDER BY seq DESC LIMIT $4""",
        account_id,
        status,
        before,
        limit,
    )
    return [_row(r) for r in rows]
