"""`GET /api/v1/users/me`, and the user object that token responses embed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import auth_ports, require_account
from api.rendering import json_response
from domain import ids
from domain.plans import Plan
from domain.quota import period_bounds, period_of, units_remaining
from projections.accounts import AccountRow, fetch_account_with_usage
from projections.usage import usage_in
from projections.views import by_name

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


async def user_out(
    request: Request,
    facts: AccountRow,
    plan: Plan,
    conn: asyncpg.Connection | None = None,
    *,
    period: str | None = None,
    usage: tuple[int, int] | None = None,
) -> UserOut:
    """`plan` is the one the request was authorised with (the row's may trail it);
    `conn`: a read-model connection the caller holds already; `usage`: (used, reserved)
    in `period`, when the caller read them already."""
    period = period or period_of(auth_ports(request).clock.now())
    start, end = period_bounds(period)
    if usage is not None:
        used, reserved = usage
    elif conn is None:
        async with request.app.state.infra.read_pool.acquire() as conn:
            used, reserved = await usage_in(conn, facts.id, period)
    else:
        used, reserved = await usage_in(conn, facts.id, period)
    usage = UsageOut(
        period_start=start,
        period_end=end,
        used=used,
        reserved=reserved,
        remaining=units_remaining(plan.monthly_submissions, used=used, reserved=reserved),
    )
    return by_name(
        UserOut,
        facts,
        id=ids.encode("usr", facts.id),
        plan=msgspec.convert(plan, PlanOut, from_attributes=True),
        usage=usage,
    )


def current_period(request: Request) -> str:
    """The month whose usage `/users/me` shows (its answer varies with it)."""
    return period_of(auth_ports(request).clock.now())


async def me(request: Request) -> Response:
    principal = await require_account(request)
    period = current_period(request)
    pool = request.app.state.infra.reads
    row, usage = await fetch_account_with_usage(pool, principal.account_id, period)
    # the plan is the one authorisation used (current to this request); the read
    # model may trail by a moment, and the principal (current to it) never does
    facts = row or by_name(AccountRow, principal, id=principal.account_id, plan=principal.plan.code)
    return json_response(await user_out(request, facts, principal.plan, period=period, usage=usage))
