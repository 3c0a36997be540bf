"""Read model `accounts`: one row per account (id, email, name, plan, timestamps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.account import Account
from projections.base import Owners
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
    owners = Owners("accounts", "id", "id")
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
            row = _registered(event)
            await insert(conn, "accounts", [row], suffix="ON CONFLICT (id) DO NOTHING")
            return
        plan = _new_plan(event)
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
                rows.insert(as_columns(_registered(event)), if_absent=True)
            else:
                plan = _new_plan(event)
                if plan is None and (row := rows.get(key)) is not None:
                    plan = row["plan"]  # coalesce($2, plan)
                rows.update(key, plan=plan, updated_at=event.timestamp)
        await rows.write(conn)


def _registered(event: Account.Registered) -> AccountRow:
    """The row a registration creates (both apply paths)."""
    return by_name(
        AccountRow,
        event,
        id=event.originator_id,
        plan=event.plan_code,
        created_at=event.timestamp,
        updated_at=event.timestamp,
    )


def _new_plan(event: Any) -> str | None:
    """The plan any other event sets: its own on a plan change, else None (kept)."""
    return event.plan_code if isinstance(event, Account.PlanChanged) else None


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


_WITH_USAGE = f"""SELECT {", ".join(f"a.{name}" for name in AccountRow.__struct_fields__)},
        coalesce(u.used, 0) AS used, coalesce(u.reserved, 0) AS reserved
    FROM (VALUES (1)) AS one
    LEFT JOIN accounts a ON a.id = $1
    LEFT JOIN usage u ON u.account_id = $1 AND u.period = $2"""


async def fetch_account_with_usage(
    conn: Any, account_id: UUID, period: str
) -> tuple[AccountRow | None, tuple[int, int]]:
    """`fetch_account` and `projections.usage.usage_in` (used, reserved) in one round trip,
    for `GET /users/me`; either may be missing (zeros for the usage)."""
    row = await conn.fetchrow(_WITH_USAGE, account_id, period)
    account = convert(row, AccountRow) if row["id"] is not None else None
    return account, (row["used"], row["reserved"])
