"""Read model `accounts`: one row per account (id, email, name, plan, timestamps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.account import Account
from projections.views import by_name, columns, convert, insert

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
    """A row of `accounts`: what the user object shows about an account."""

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
            row = by_name(
                AccountRow,
                event,
                id=event.originator_id,
                plan=event.plan_code,
                created_at=event.timestamp,
                updated_at=event.timestamp,
            )
            await insert(conn, "accounts", [row], suffix="ON CONFLICT (id) DO NOTHING")
            return
        plan = event.plan_code if isinstance(event, Account.PlanChanged) else None
        await conn.execute(
            """UPDATE accounts SET plan = coalesce($2, plan), updated_at = $3 WHERE id = $1""",
            event.originator_id,
            plan,
            event.timestamp,
        )


def account_row(account: Account) -> AccountRow:
    """The row a just-saved account will have (read-your-writes while the projector lags)."""
    return by_name(
        AccountRow,
        account,
        plan=account.plan_code,
        created_at=account.created_on,
        updated_at=account.modified_on,
    )


async def fetch_account(conn: Any, account_id: UUID) -> AccountRow | None:
    row = await conn.fetchrow(
        f"SELECT {columns(AccountRow)} FROM accounts WHERE id = $1", account_id
    )
    return convert(row, AccountRow) if row else None
