"""When to look for a listing after a submission (ARCHITECTURE.md): first after the
directory's turnaround (0 days: at once), then after 1 h, 6 h, 1 d and 3 d, then every
3 d, until 14 days have passed since the submission; then the task fails with
`listing_not_found`."""

from __future__ import annotations

from datetime import timedelta

BACKOFF = (timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=3))
GIVE_UP_AFTER = timedelta(days=14)


def looks(turnaround_days: int) -> list[timedelta]:
    """Offsets from the submission of every look, in order."""
    at = timedelta(days=max(turnaround_days, 0))
    out = [at]
    step = 0
    while True:
        at += BACKOFF[min(step, len(BACKOFF) - 1)]
        step += 1
        if at > GIVE_UP_AFTER:
            return out
        out.append(at)


def next_look(turnaround_days: int, attempt: int) -> timedelta | None:
    """How long after look number `attempt` (0-based) the next one is due; None when
    `attempt` was the last."""
    schedule = looks(turnaround_days)
    if attempt + 1 >= len(schedule):
        return None
    return schedule[attempt + 1] - schedule[attempt]
