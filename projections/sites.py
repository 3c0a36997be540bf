"""Read model: sites, as `GET /sites` lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.site import CHANGEABLE, Site
from projections.base import Owners
from projections.batch import Rows, as_columns
from projections.views import by_name, columns, convert, insert, placeholder, values


class SitesProjection:
    name = "sites"
    owners = Owners("sites", "id", "account_id")
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
            row = _registered(event, notification_id)
            await insert(conn, "sites", [row], account_id=event.account_id)
        elif isinstance(event, Site.Updated):
            changes = _updated(event)
            sets = "".join(
                f", {k} = {placeholder(SiteRow, k, i)}" for i, k in enumerate(changes, start=3)
            )
            await conn.execute(
                f"UPDATE sites SET updated_at = $2{sets} WHERE id = $1",
                event.originator_id,
                event.timestamp,
                *changes.values(),
            )
        elif isinstance(event, Site.Archived):
            await conn.execute(
                "UPDATE sites SET status = 'archived', updated_at = $2 WHERE id = $1",
                event.originator_id,
                event.timestamp,
            )

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write (`projections.batch`)."""
        rows = Rows("sites", ("id",))
        await rows.load(conn, {(e.originator_id,) for e, _ in events})
        for event, notification_id in events:
            key = (event.originator_id,)
            if isinstance(event, Site.Registered):
                row = _registered(event, notification_id)
                rows.insert(as_columns(row, account_id=event.account_id))
            elif isinstance(event, Site.Updated):
                rows.update(key, updated_at=event.timestamp, **_updated(event))
            elif isinstance(event, Site.Archived):
                rows.update(key, status="archived", updated_at=event.timestamp)
        await rows.write(conn)


def _registered(event: Site.Registered, notification_id: int) -> SiteRow:
    """The row a registration creates (both apply paths)."""
    return by_name(
        SiteRow,
        event,
        id=event.originator_id,
        status="active",
        created_at=event.timestamp,
        updated_at=event.timestamp,
        seq=notification_id,
    )


def _updated(event: Site.Updated) -> dict[str, Any]:
    """The columns an update sets besides `updated_at`, as their statement binds them."""
    changed = [k for k in event.changes if k in CHANGEABLE]
    return dict(zip(changed, values(SiteRow, event.changes, changed), strict=True))


class SiteView(msgspec.Struct, frozen=True):
    """A site as the read model shows it; the API's `SiteOut` is this with a public id."""

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


class SiteRow(SiteView, frozen=True):
    """A row of `sites`: the view and its cursor key."""

    seq: int


def site_row(site: Site) -> SiteRow:
    """The row a just-saved site will have (read-your-writes while the projector lags)."""
    return by_name(SiteRow, site, created_at=site.created_on, updated_at=site.modified_on, seq=0)


async def get_site(conn: Any, account_id: UUID, site_id: UUID) -> SiteRow | None:
    row = await conn.fetchrow(
        f"SELECT {columns(SiteRow)} FROM sites WHERE id = $1 AND account_id = $2",
        site_id,
        account_id,
    )
    return convert(row, SiteRow) if row else None


async def list_sites(
    conn: Any, account_id: UUID, *, status: str | None, limit: int, before: int | None
) -> list[SiteRow]:
    """Newest first by commit order (`seq`), after the cursor."""
    rows = await conn.fetch(
        f"""SELECT {columns(SiteRow)} FROM sites WHERE account_id = $1
            AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR seq < $3)
            ORDER BY seq DESC LIMIT $4""",
        account_id,
        status,
        before,
        limit,
    )
    return [convert(r, SiteRow) for r in rows]
