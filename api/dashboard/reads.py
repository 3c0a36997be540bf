"""What the dashboard reads besides the API's own lists: an account's usage as
`GET /users/me` shows it, its backlink counts, and the two series its charts draw, from
the reports' read models (`projections.report_backlinks`, `projections.report_usage`:
what `GET /api/v1/reports/backlinks` and `/reports/usage` answer from)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from starlette.requests import Request

from api.auth import Principal
from api.users import UserOut, user_out
from domain.quota import period_bounds, period_of
from projections.accounts import AccountRow, fetch_account
from projections.report_backlinks import backlinks_over_time
from projections.report_usage import UsageRow
from projections.report_usage import usage_by_month as report_usage_by_month
from projections.views import by_name

Series = list[tuple[str, float]]


async def account_usage(request: Request, principal: Principal) -> UserOut:
    """The account, its plan and this month's quota, exactly as `GET /users/me` answers."""
    async with request.app.state.infra.read_pool.acquire() as conn:
        row = await fetch_account(conn, principal.account_id)
        facts = row or by_name(
            AccountRow, principal, id=principal.account_id, plan=principal.plan.code
        )
        return await user_out(request, facts, principal.plan, conn)


async def backlink_counts(conn: Any, account_id: UUID) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM backlinks WHERE account_id = $1 GROUP BY status",
        account_id,
    )
    counts = {"live": 0, "lost": 0}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


async def live_backlinks_by_day(
    conn: Any, account_id: UUID, site_id: UUID | None, *, today: datetime, days: int = 30
) -> Series:
    """Backlinks live at the end of each of the last `days` days (UTC): the reports' read
    model (`GET /api/v1/reports/backlinks?interval=day`)."""
    buckets = await backlinks_over_time(
        conn, account_id, site_id, "day", today - timedelta(days=days - 1), today
    )
    return [(b.start.strftime("%m-%d"), b.live) for b in buckets]


def _months_back(period: str, count: int) -> list[str]:
    """`count` periods ending with `period`, oldest first."""
    out = [period]
    while len(out) < count:
        start, _ = period_bounds(out[0])
        out.insert(0, period_of(start - timedelta(days=1)))
    return out


async def usage_by_month(
    conn: Any, account_id: UUID, *, today: datetime, months: int = 6
) -> list[UsageRow]:
    """The last `months` months, oldest first, zeros for a month without a job: the
    reports' read model (`GET /api/v1/reports/usage`)."""
    periods = _months_back(period_of(today), months)
    return await report_usage_by_month(conn, account_id, periods[0], periods[-1])
