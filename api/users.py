"""`GET /api/v1/users/me`, and the user object that token responses embed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import auth_ports, require_account
from api.rendering import json_response
from domain import ids
from domain.account import Account
from domain.plans import Plan
from domain.quota import period_bounds, period_of
from projections.accounts import fetch_account
from projections.usage import usage_in

if TYPE_CHECKING:
    import asyncpg


class PlanOut(msgspec.Struct):
    code: str
    name: str
    price_usd: int
    monthly_submissions: int
    dr_cap: int | None
    api_access: bool


class UsageOut(msgspec.Struct):
    period_start: datetime
    period_end: datetime
    used: int
    reserved: int
    remaining: int


class UserOut(msgspec.Struct):
    id: str
    email: str
    name: str | None
    plan: PlanOut
    usage: UsageOut
    created_at: datetime
    updated_at: datetime


class AccountFacts(msgspec.Struct, frozen=True):
    """What the user object shows about an account, from the aggregate (after a command)
    or from the `accounts` read model (on a query)."""

    id: UUID
    email: str
    name: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountFacts:
        return cls(account.id, account.email, account.name, account.created_on, account.modified_on)


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        plan.code, plan.name, plan.price_usd, plan.monthly_submissions, plan.dr_cap, plan.api_access
    )


async def user_out(
    request: Request, facts: AccountFacts, plan: Plan, conn: asyncpg.Connection | None = None
) -> UserOut:
    """`conn`: a read-model connection the caller holds already."""
    period = period_of(auth_ports(request).clock.now())
    start, end = period_bounds(period)
    if conn is None:
        async with request.app.state.infra.read_pool.acquire() as conn:
            used, reserved = await usage_in(conn, facts.id, period)
    else:
        used, reserved = await usage_in(conn, facts.id, period)
    remaining = max(0, plan.monthly_submissions - used - reserved)
    return UserOut(
        id=ids.encode("usr", facts.id),
        email=facts.email,
        name=facts.name,
        plan=plan_out(plan),
        usage=UsageOut(start, end, used, reserved, remaining),
        created_at=facts.created_at,
        updated_at=facts.updated_at,
    )


async def me(request: Request) -> Response:
    principal = await require_account(request)
    async with request.app.state.infra.read_pool.acquire() as conn:
        row = await fetch_account(conn, principal.account_id)
        # the plan is the one authorisation used (current to this request); the read model
        # may trail by a moment, and the principal (current to this request) never does
        facts = (
            AccountFacts(row.id, row.email, row.name, row.created_at, row.updated_at)
            if row
            else AccountFacts(
                principal.account_id,
                principal.email,
                principal.name,
                principal.created_at,
                principal.updated_at,
            )
        )
        return json_response(await user_out(request, facts, principal.plan, conn))
