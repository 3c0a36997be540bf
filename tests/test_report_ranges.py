"""The months a usage report covers (`domain.reports`): the range's bounds, and the months
counted between them, at the ends of what `YYYY-MM` can say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import ValidationFailed
from domain.reports import month_range, months

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def test_months_are_counted_across_a_year_end():
    assert months("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months("2026-05", "2026-05") == ["2026-05"]
    assert months("2026-05", "2026-04") == []


def test_the_last_four_digit_year_ends_the_count():
    # compared as strings, "10000-01" sorts before "9999-12": the count went on to the
    # year 99999 (over a million months) for a report ending in 9999-12
    assert months("9999-01", "9999-12") == [f"9999-{m:02d}" for m in range(1, 13)]


def test_a_range_ending_in_9999_12_is_its_twelve_months():
    first, last = month_range(None, "9999-12", NOW)
    assert (first, last) == ("9999-01", "9999-12")
    assert len(months(first, last)) == 12


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        # twelve months before 0000-01 is no month "YYYY-MM" can say
        (None, "0000-01", "to"),
        ("0000-01", "0000-12", "from"),
        (None, "1969-12", "to"),
        ("1969-12", "1970-06", "from"),
        ("0000-01", None, "from"),
    ],
)
def test_months_before_1970_are_refused_naming_the_parameter(since, until, field):
    with pytest.raises(ValidationFailed) as refused:
        month_range(since, until, NOW)
    assert refused.value.field == field
    assert "1970-01" in str(refused.value)


def test_1970_01_is_the_first_month_a_report_may_name():
    assert month_range("1970-01", "1970-03", NOW) == ("1970-01", "1970-03")
    # the twelve months up to it reach before it: still months, never an error
    assert month_range(None, "1970-01", NOW) == ("1969-02", "1970-01")
