"""The task schedule (`domain.task_schedule`): listing looks and submission retries. Pure."""

from datetime import timedelta

from domain.task_schedule import (
    GIVE_UP_AFTER,
    MAX_ATTEMPTS,
    first_look,
    gave_up,
    listed_at_once,
    looks,
    next_look,
    retry_delay,
)


def test_schedule_backs_off_until_fourteen_days():
    h, d = timedelta(hours=1), timedelta(days=1)
    assert looks(0) == [
        0 * h,
        1 * h,
        7 * h,
        31 * h,
        31 * h + 3 * d,
        31 * h + 6 * d,
        31 * h + 9 * d,
        31 * h + 12 * d,
    ]
    assert looks(0)[-1] <= 14 * d
    assert looks(2)[0] == 2 * d and looks(20) == [20 * d]  # a turnaround past 14 d: one look


def test_next_look_and_the_end():
    assert next_look(0, 0) == timedelta(hours=1)
    assert next_look(0, 1) == timedelta(hours=6)
    assert next_look(0, len(looks(0)) - 1) is None


def test_the_first_look_comes_after_the_turnaround():
    assert first_look(0) == timedelta(0) and first_look(3) == timedelta(days=3)
    assert first_look(-1) == timedelta(0)
    assert [first_look(days) == looks(days)[0] for days in (0, 1, 7)] == [True] * 3


def test_only_a_directory_without_moderation_lists_at_once():
    # a missing listing right after the submission proves it absent only then
    assert listed_at_once(0) and not listed_at_once(1)


def test_the_last_look_gives_up_at_the_limit():
    assert GIVE_UP_AFTER == timedelta(days=14)
    assert all(at <= GIVE_UP_AFTER for days in (0, 1, 5, 13) for at in looks(days))
    assert gave_up("shop.example", "https://dir.example/l/1") == (
        "No link to shop.example on https://dir.example/l/1 within 14 days of the submission."
    )


def test_submission_retries_back_off_and_end():
    assert [retry_delay(n) for n in (0, 1, 2, 3)] == [timedelta(seconds=s) for s in (2, 2, 4, 8)]
    assert MAX_ATTEMPTS == 3
