"""Read model `accounts`: one row per account (id, email, name, plan, timestamps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.account import Account
from projections.batch import Rows, as_columns
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

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, with one write (`projections.batch`)."""
        rows = Rows("accounts", ("id",))
        await rows.load(conn, {(e.originator_id,) for e, _ in events})
        for event, _ in events:
            key = (event.originator_id,)
            if isinstance(event, Account.Registered):
                row = by_name(
                    AccountRow,
                    event,
                    id=event.originator_id,
                    plan=event.plan_code,
                    created_at=event.timestamp,
                    updated_at=event.timestamp,
                )
                rows.insert(as_columns(row), if_absent=True)
            else:
                plan = event.plan_code if isinstance(event, Account.PlanChanged) else None
                if plan is None and (row := rows.get(key)) is not None:
                    plan = row["plan"]  # coalesce($2, plan)
                rows.update(key, plan=plan, updated_at=event.timestamp)
        await rows.write(conn)


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
