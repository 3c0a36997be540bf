"""What the dashboard reads besides the API's own queries: an account's usage as
`GET /users/me` shows it, its backlink counts, and the two series its charts draw.

The series are small aggregate queries over the read models the API lists from
(`backlinks`, `usage`); they hold no rule, only counting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from starlette.requests import Request

from api.auth import Principal
from api.users import UserOut, user_out
from domain.quota import period_bounds, period_of
from projections.accounts import AccountRow, fetch_account
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
    conn: Any, account_id: UUID, *, today: datetime, days: int = 30
) -> Series:
    """For each of the last `days` days (UTC), the backlinks live at its end: first seen
    by then and not lost by then (a link lost and found again counts from its recovery:
    the read model keeps its latest loss only)."""
    first = (today - timedelta(days=days - 1)).date()
    rows = await conn.fetch(
        """SELECT d::date AS day, count(b.id) AS n
           FROM generate_series($2::date, $3::date, interval '1 day') AS d
           LEFT JOIN backlinks b ON b.account_id = $1
             AND b.first_seen_at < d + interval '1 day'
             AND (b.status = 'live' OR b.lost_at >= d + interval '1 day')
           GROUP BY d ORDER BY d""",
        account_id,
        first,
        today.date(),
    )
    return [(r["day"].strftime("%m-%d"), r["n"]) for r in rows]


def _months_back(period: str, count: int) -> list[str]:
    """`count` periods ending with `period`, oldest first."""
    out = [period]
    while len(out) < count:
        start, _ = period_bounds(out[0])
        out.insert(0, period_of(start - timedelta(days=1)))
    return out


async def usage_by_month(
    conn: Any, account_id: UUID, *, today: datetime, months: int = 6
) -> list[tuple[str, int, int]]:
    """(period, used, reserved) for the last `months` months, oldest first; zeros for a
    month without a job."""
    periods = _months_back(period_of(today), months)
    rows = await conn.fetch(
        "SELECT period, used, reserved FROM usage WHERE account_id = $1 AND period = ANY($2)",
        account_id,
        periods,
    )
    found = {r["period"]: (r["used"], r["reserved"]) for r in rows}
    return [(p, *found.get(p, (0, 0))) for p in periods]
