"""The remaining-quota arithmetic, one rule for the aggregate and for `users/me`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.quota import Quota, period_bounds, period_of, units_remaining


def test_remaining_is_the_limit_less_used_and_reserved_never_below_zero():
    assert units_remaining(150, used=10, reserved=5) == 135
    assert units_remaining(150, used=150, reserved=0) == 0
    # a plan lowered below what was already spent shows nothing left, not a debt
    assert units_remaining(0, used=3, reserved=2) == 0


def test_the_aggregate_counts_what_its_jobs_hold():
    quota = Quota(account_id=uuid.uuid4(), period="2026-11")
    quota.reserve(uuid.uuid4(), 4, limit=10)
    job = uuid.uuid4()
    quota.reserve(job, 3, limit=10)
    quota.consume(job)
    assert quota.remaining(10) == units_remaining(10, used=1, reserved=6) == 3


@pytest.mark.parametrize(
    ("moment", "period"),
    [
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "2026-11"),
        # an offset: the month is UTC's (22:30 at -02:00 is already December in UTC)
        (datetime(2026, 11, 30, 22, 30, tzinfo=timezone(timedelta(hours=-2))), "2026-12"),
        (datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2026-12"),
        (datetime(2026, 1, 5, tzinfo=UTC), "2026-01"),
    ],
)
def test_a_period_is_the_utc_month_as_year_dash_month(moment, period) -> None:
    assert period_of(moment) == period
    start, end = period_bounds(period)
    assert start <= moment < end
