"""When the workers act on a job's task (ARCHITECTURE.md, "Workers" and "Directory
catalogue"): the one home of both schedules.

Submission: a transient failure (timeout, 5xx, connection error) is tried again after
2 s, 4 s, 8 s …, at most `MAX_ATTEMPTS` attempts in all.

Verification: the first look for the listing comes the directory's turnaround after the
submission (0 days: at once), then after 1 h, 6 h, 1 d and 3 d, then every 3 d, until 14
days have passed since the submission; then the task fails with `listing_not_found`.
"""

from __future__ import annotations

from datetime import timedelta

# -- submission retries ------------------------------------------------------------------

MAX_ATTEMPTS = 3
RETRY_BASE = timedelta(seconds=2)


def retry_delay(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … after the 1st, 2nd, 3rd failed attempt."""
    return RETRY_BASE * 2 ** max(attempts - 1, 0)


# -- listing looks -----------------------------------------------------------------------

BACKOFF = (timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=3))
GIVE_UP_AFTER = timedelta(days=14)


def first_look(turnaround_days: int) -> timedelta:
    """How long after the submission the listing is first looked for."""
    return timedelta(days=max(turnaround_days, 0))


def listed_at_once(turnaround_days: int) -> bool:
    """The directory publishes at once: a missing listing right after a submission proves
    that the submission did not land (with moderation, it proves nothing yet)."""
    return first_look(turnaround_days) == timedelta(0)


def looks(turnaround_days: int) -> list[timedelta]:
    """Offsets from the submission of every look, in order."""
    at = first_look(turnaround_days)
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


def gave_up(domain: str, url: str) -> str:
    """Why the last look ended the task (`listing_not_found`)."""
    return f"No link to {domain} on {url} within {GIVE_UP_AFTER.days} days of the submission."
