"""Read model `api_keys`: the keys an account can see (never their secrets).

`position` is the notification id of the key's creation: commit order, so "newest first"
is a total order that a concurrent creation can only extend at the front — pages handed
out earlier never shift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.api_key import ApiKey
from projections.batch import Rows, as_columns
from projections.views import by_name, columns, convert, insert

DDL = (
    """CREATE TABLE IF NOT EXISTS api_keys (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL,
        name text NOT NULL,
        prefix text NOT NULL,
        position bigint NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz)""",
    """CREATE INDEX IF NOT EXISTS api_keys_account_position_idx
        ON api_keys (account_id, position DESC) WHERE revoked_at IS NULL""",
)


class ApiKeyView(msgspec.Struct, frozen=True):
    """A key as its owner sees it; the API's `ApiKeyOut` is this with a public id."""

    id: UUID
    name: str
    prefix: str
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


class ApiKeyRow(ApiKeyView, frozen=True):
    """A row of `api_keys` as listed: the view and its cursor key."""

    position: int


def api_key_row(key: ApiKey) -> ApiKeyRow:
    """The row a just-saved key will have (its creation is answered from the aggregate)."""
    return by_name(
        ApiKeyRow, key, created_at=key.created_on, updated_at=key.modified_on, position=0
    )


class ApiKeysProjection:
    name = "api_keys"
    ddl = DDL
    tables = ("api_keys",)
    topics = tuple(get_topic(c) for c in (ApiKey.Created, ApiKey.Used, ApiKey.Revoked))

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, ApiKey.Created):
            row = by_name(
                ApiKeyRow,
                event,
                id=event.originator_id,
                created_at=event.timestamp,
                updated_at=event.timestamp,
                last_used_at=None,
                position=notification_id,
            )
            await insert(
                conn,
                "api_keys",
                [row],
                account_id=event.account_id,
                suffix="ON CONFLICT (id) DO NOTHING",
            )
        elif isinstance(event, ApiKey.Used):
            await conn.execute(
                """UPDATE api_keys SET last_used_at = $2, updated_at = $3 WHERE id = $1""",
                event.originator_id,
                event.at,
                event.timestamp,
            )
        elif isinstance(event, ApiKey.Revoked):
            await conn.execute(
                """UPDATE api_keys SET revoked_at = $2, updated_at = $3 WHERE id = $1""",
                event.originator_id,
                event.at,
                event.timestamp,
            )

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write (`projections.batch`)."""
        rows = Rows("api_keys", ("id",))
        await rows.load(conn, {(e.originator_id,) for e, _ in events})
        for event, notification_id in events:
            key = (event.originator_id,)
            if isinstance(event, ApiKey.Created):
                row = by_name(
                    ApiKeyRow,
                    event,
                    id=event.originator_id,
                    created_at=event.timestamp,
                    updated_at=event.timestamp,
                    last_used_at=None,
                    position=notification_id,
                )
                rows.insert(as_columns(row, account_id=event.account_id), if_absent=True)
            elif isinstance(event, ApiKey.Used):
                rows.update(key, last_used_at=event.at, updated_at=event.timestamp)
            elif isinstance(event, ApiKey.Revoked):
                rows.update(key, revoked_at=event.at, updated_at=event.timestamp)
        await rows.write(conn)


async def list_api_keys(
    conn: Any, account_id: UUID, *, limit: int, before: int | None
) -> list[ApiKeyRow]:
    """Active keys, newest first, at most `limit`, those created before `before`."""
    rows = await conn.fetch(
        f"""SELECT {columns(ApiKeyRow)} FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL
           AND ($2::bigint IS NULL OR position < $2)
           ORDER BY position DESC LIMIT $3""",
        account_id,
        before,
        limit,
    )
    return [convert(r, ApiKeyRow) for r in rows]
