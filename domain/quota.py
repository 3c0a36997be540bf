"""Quota: one account's submission allowance for one calendar month (UTC).

Creating a job *reserves* one unit per task; a submitted task *consumes* its unit; a
failed, skipped or canceled task *releases* it. `reserved + used + requested <= limit`
holds under any concurrency because every change is an event on this one aggregate,
appended with optimistic concurrency.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import event

from domain import ids
from domain.aggregate import Aggregate
from domain.errors import DomainError, ValidationFailed


class QuotaExceeded(ValidationFailed):
    code = "quota_exceeded"


def period_of(moment: datetime) -> str:
    """The calendar month (UTC) that `moment` falls in, as "YYYY-MM" (formatted by hand:
    `strftime` costs several times as much, and `/users/me` asks on every request)."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a period."""
    year, month = (int(x) for x in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def units_remaining(limit: int, *, used: int, reserved: int) -> int:
    """Units still free in a period: the limit less what is used and what jobs hold."""
    return max(0, limit - used - reserved)


class Quota(Aggregate):
    account_id: UUID
    period: str
    used: int
    #: job id (hex) -> units still reserved for that job
    reserved: dict[str, int]

    @staticmethod
    def create_id(account_id: UUID, period: str) -> UUID:
        return ids.derived("quota", account_id, period)

    @event("Opened")
    def __init__(self, account_id: UUID, period: str) -> None:
        self.account_id = account_id
        self.period = period
        self.used = 0
        self.reserved = {}

    @property
    def total_reserved(self) -> int:
        return sum(self.reserved.values())

    def remaining(self, limit: int) -> int:
        return units_remaining(limit, used=self.used, reserved=self.total_reserved)

    def reserve(self, job_id: UUID, units: int, limit: int) -> None:
        self.check_has_room(units, limit)
        self._reserve(job_id, units)

    def check_has_room(self, units: int, limit: int) -> None:
        if units > self.remaining(limit):
            _, resets = period_bounds(self.period)
            raise QuotaExceeded(
                f"This job needs {units} submission(s) but {self.remaining(limit)} of "
                f"{limit} remain this month; the quota resets at "
                f"{resets.strftime('%Y-%m-%dT%H:%M:%SZ')}."
            )

    @event("Reserved")
    def _reserve(self, job_id: UUID, units: int) -> None:
        self.reserved = {**self.reserved, job_id.hex: self.reserved.get(job_id.hex, 0) + units}

    def consume(self, job_id: UUID, units: int = 1) -> None:
        self.check_is_reserved(job_id, units)
        self._consume(job_id, units)

    @event("Consumed")
    def _consume(self, job_id: UUID, units: int) -> None:
        self._take(job_id, units)
        self.used += units

    def release(self, job_id: UUID, units: int = 1) -> None:
        self.check_is_reserved(job_id, units)
        self._release(job_id, units)

    @event("Released")
    def _release(self, job_id: UUID, units: int) -> None:
        self._take(job_id, units)

    def check_is_reserved(self, job_id: UUID, units: int) -> None:
        if self.reserved.get(job_id.hex, 0) < units:
            raise DomainError(f"Job {job_id} holds fewer than {units} reserved unit(s).")

    def _take(self, job_id: UUID, units: int) -> None:
        left = self.reserved.get(job_id.hex, 0) - units
        self.reserved = {k: v for k, v in self.reserved.items() if k != job_id.hex}
        if left > 0:
            self.reserved[job_id.hex] = left
