"""Read model `accounts`: one row per account (id, email, name, plan, timestamps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.account import Account

DDL = (
    """CREATE TABLE IF NOT EXISTS accounts (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        name text,
        plan text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL)""",
)


class AccountRow(msgspec.Struct, frozen=True):
    id: UUID
    email: str
    name: str | None
    plan: str
    created_at: datetime
    updated_at: datetime


class AccountsProjection:
    name = "accounts"
    ddl = DDL
    tables = ("accounts",)
    topics = tuple(
        get_topic(cls)
        for cls in (
            Account.Registered,
            Account.PlanChanged,
            Account.PasswordRehashed,
            Account.ApiKeyAdded,
            Account.ApiKeyRemoved,
        )
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, Account.Registered):
            await conn.execute(
                """INSERT INTO accounts (id, email, name, plan, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING""",
                event.originator_id,
                event.email,
                event.name,
                event.plan_code,
                event.timestamp,
            )
            return
        plan = event.plan_code if isinstance(event, Account.PlanChanged) else None
        await conn.execute(
            """UPDATE accounts SET plan = coalesce($2, plan), updated_at = $3 WHERE id = $1""",
            event.originator_id,
            plan,
            event.timestamp,
        )


async def fetch_account(conn: Any, account_id: UUID) -> AccountRow | None:
    row = await conn.fetchrow(
        "SELECT id, email, name, plan, created_at, updated_at FROM accounts WHERE id = $1",
        account_id,
    )
    return AccountRow(**dict(row)) if row else None
