"""The reports' ranges: which months a usage report covers, which days or weeks a
backlinks report covers, and how much one report may span (a report is computed whole,
so its size is bounded here rather than paged in the database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.errors import ValidationFailed
from domain.quota import period_of

#: a usage report covers at most three years of months
MAX_MONTHS = 36
#: without `from`, a usage report covers the twelve months up to `to`
DEFAULT_MONTHS = 12
#: a backlinks report has at most this many buckets (a year of days, ~7 years of weeks)
MAX_BUCKETS = 400
#: without `from`, a backlinks report covers this many buckets up to `to`
DEFAULT_BUCKETS = {"day": 30, "week": 12}
STEPS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
#: instants a backlinks report may name (beyond them a bucket's end is not a datetime)
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
#: the first month a usage report may name, as a backlinks report's first instant (the
#: twelve months before an earlier one would reach back past the year 1)
EARLIEST_MONTH = "1970-01"


def _month_index(period: str) -> int:
    year, month = (int(x) for x in period.split("-"))
    return year * 12 + month - 1


def _period(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(since: str | None, until: str | None, now: datetime) -> tuple[str, str]:
    """The first and last month ("YYYY-MM", both included) of a usage report: `until`
    defaults to this month, `since` to twelve months up to `until`."""
    for name, given in (("from", since), ("to", until)):
        if given is not None and given < EARLIEST_MONTH:
            raise ValidationFailed(
                f"{name} must be {EARLIEST_MONTH} or later (YYYY-MM).", field=name
            )
    last = _month_index(until or period_of(now))
    first = _month_index(since) if since else last - DEFAULT_MONTHS + 1
    if first > last:
        raise ValidationFailed("from must not be after to.", field="from")
    if last - first + 1 > MAX_MONTHS:
        raise ValidationFailed(
            f"A usage report covers at most {MAX_MONTHS} months; narrow from and to.",
            field="from",
        )
    return _period(first), _period(last)


def months(first: str, last: str) -> list[str]:
    """ "YYYY-MM" from `first` to `last`, both included. Counted by index, not by comparing
    the strings: past "9999-12" the next month, "10000-01", sorts before it."""
    return [_period(i) for i in range(_month_index(first), _month_index(last) + 1)]


def bucket_range(
    interval: str, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The instants whose buckets a backlinks report covers: `until` defaults to now,
    `since` to the default number of buckets up to `until`."""
    step = STEPS[interval]
    for name, given in (("from", since), ("to", until)):
        if given is not None and not EARLIEST <= given <= LATEST:
            raise ValidationFailed(
                f"{name} must lie between 1970 and 9000 (RFC 3339, with its offset).",
                field=name,
            )
    until = until or now
    since = since or until - step * (DEFAULT_BUCKETS[interval] - 1)
    if since > until:
        raise ValidationFailed("from must not be after to.", field="from")
    # whole buckets between the two, plus the partial ones at each end
    if (until - since) / step + 2 > MAX_BUCKETS:
        raise ValidationFailed(
            f"A backlinks report has at most {MAX_BUCKETS} buckets ({interval}s); "
            "narrow from and to.",
            field="from",
        )
    return since, until
