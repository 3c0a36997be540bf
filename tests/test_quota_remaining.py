"""The remaining-quota arithmetic, one rule for the aggregate and for `users/me`."""

from __future__ import annotations

import uuid

from domain.quota import Quota, units_remaining


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
