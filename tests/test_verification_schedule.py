from datetime import timedelta

from domain.task_schedule import looks, next_look


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
