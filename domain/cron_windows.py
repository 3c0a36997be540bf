"""How often the workers' crons act on the same thing (ARCHITECTURE.md, "Workers").

* A queued or running job whose waiting tasks have not moved for `STALLED_AFTER` has
  nothing queued for them (Redis lost its data, say): it is fanned out again, at most once
  per `RESUME_EVERY`.
* A backlink not checked for the re-check interval is queued for a re-check once per check
  and per interval: a check that failed (its time did not move) is queued again in the
  next interval instead of being remembered as done.
* A re-check asked for through the API (`POST /backlinks/{id}/recheck`) is queued at most
  once per `RECHECK_NOW_EVERY` and backlink: asking again in the same window is a no-op.

Windows are counted from the Unix epoch, so every worker numbers them alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

STALLED_AFTER = timedelta(minutes=5)
RESUME_EVERY = timedelta(minutes=10)
RECHECK_NOW_EVERY = timedelta(minutes=5)


def window(now: datetime, length: timedelta) -> int:
    """The number of the `length`-long window that `now` falls in."""
    return int(now.timestamp() // length.total_seconds())


def resume_window(now: datetime) -> int:
    return window(now, RESUME_EVERY)


def recheck_period(now: datetime, recheck_every: timedelta) -> int:
    return window(now, recheck_every)


def recheck_now_window(now: datetime) -> int:
    return window(now, RECHECK_NOW_EVERY)


def window_end(now: datetime, length: timedelta) -> datetime:
    """When the window that `now` falls in ends (the next one starts)."""
    seconds = length.total_seconds()
    return datetime.fromtimestamp((window(now, length) + 1) * seconds, tz=now.tzinfo)
