"""`projections.jobs.get_job` builds each task from its row's columns by position: the
columns from `_TASK_FROM` on are the task's, in `TaskRow`'s order."""

from __future__ import annotations

import re

from projections.jobs import _JOB_AND_TASKS, _TASK_FROM, TaskRow


def test_the_task_columns_come_last_in_task_row_order() -> None:
    select = re.match(r"SELECT (.*?) FROM ", _JOB_AND_TASKS, re.S).group(1)  # type: ignore[union-attr]
    names = [column.split(" AS ")[-1].split(".")[-1] for column in select.split(", ")]
    assert names[_TASK_FROM:] == [f"t_{name}" for name in TaskRow.__struct_fields__]
    assert not any(name.startswith("t_") for name in names[:_TASK_FROM])
