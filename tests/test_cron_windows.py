"""When the crons act again on the same thing (`domain.cron_windows`). Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.cron_windows import RESUME_EVERY, STALLED_AFTER, recheck_period, resume_window

T0 = datetime(2026, 11, 27, tzinfo=UTC)  # midnight: a window of ten minutes, a day starts


def test_a_stalled_job_is_resumed_at_most_once_per_ten_minutes():
    assert STALLED_AFTER == timedelta(minutes=5) and RESUME_EVERY == timedelta(minutes=10)
    window = resume_window(T0)
    assert resume_window(T0 + timedelta(minutes=9, seconds=59)) == window
    assert resume_window(T0 + timedelta(minutes=10)) == window + 1
    # the same numbering as the epoch-based one the workers used before
    assert window == int(T0.timestamp() // 600)


def test_a_backlink_recheck_is_queued_once_per_period():
    day = timedelta(hours=24)
    period = recheck_period(T0, day)
    assert recheck_period(T0 + timedelta(hours=23, minutes=59), day) == period
    assert recheck_period(T0 + day, day) == period + 1
    assert recheck_period(T0, timedelta(hours=6)) == int(T0.timestamp() // (6 * 3600))
