"""Usage of a plan's monthly submissions in one billing period.

A period is a calendar month in UTC: `start` is its first instant, `end` the first instant
of the next month (exclusive), so periods tile time with no gap or overlap.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from domain.plans import Plan


class Period(msgspec.Struct, frozen=True):
    start: datetime
    end: datetime


def calendar_month(now: datetime) -> Period:
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


class Usage(msgspec.Struct, frozen=True):
    period: Period
    used: int
    reserved: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used - self.reserved)


def usage_of(plan: Plan, period: Period, *, used: int, reserved: int) -> Usage:
    return Usage(period, used, reserved, plan.monthly_submissions)
