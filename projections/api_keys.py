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


class ApiKeyRow(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    prefix: str
    position: int
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


class ApiKeysProjection:
    name = "api_keys"
    ddl = DDL
    tables = ("api_keys",)
    topics = tuple(get_topic(c) for c in (ApiKey.Created, ApiKey.Used, ApiKey.Revoked))

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, ApiKey.Created):
            await conn.execute(
                """INSERT INTO api_keys
                   (id, account_id, name, prefix, position, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING""",
                event.originator_id,
                event.account_id,
                event.name,
                event.prefix,
                notification_id,
                event.timestamp,
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


async def list_api_keys(
    conn: Any, account_id: UUID, *, limit: int, before: int | None
) -> list[ApiKeyRow]:
    """Active keys, newest first, at most `limit`, those created before `before`."""
    rows = await conn.fetch(
        """SELECT id, name, prefix, position, created_at, updated_at, last_used_at
           FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL
           AND ($2::bigint IS NULL OR position < $2)
           ORDER BY position DESC LIMIT $3""",
        account_id,
        before,
        limit,
    )
    return [ApiKeyRow(**dict(r)) for r in rows]
