"""The cause of the work in progress, and its stamping on saved events.

An entry point says what it is — the web app per request (`api.middleware`, then
`api.auth` once the caller is known), a worker task or cron job (`workers.tasks`), a CLI
command (`backlynk_cli`) — by setting `current` (a context variable: each request and
each task has its own, and `asyncio` hands it to the tasks it starts). The repositories
call `stamp` as they save, so the domain's commands and the application services never
carry the cause (`domain.cause`)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from domain.aggregate import Aggregate
from domain.cause import Cause, CauseKind

P = ParamSpec("P")
R = TypeVar("R")

current: ContextVar[Cause | None] = ContextVar("backlynk_cause", default=None)


@contextmanager
def caused_by(cause: Cause) -> Iterator[Cause]:
    """Events saved inside the block record `cause`."""
    token = current.set(cause)
    try:
        yield cause
    finally:
        current.reset(token)


def task_cause(kind: CauseKind) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorate a worker task or cron job: what it saves is caused by it, by its name."""

    def wrap(task: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        cause = Cause(kind, name=task.__name__)

        @functools.wraps(task)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with caused_by(cause):
                return await task(*args, **kwargs)

        return run

    return wrap


def stamp(events: Iterable[Any]) -> None:
    """Give each event of a Backlynk aggregate the current cause (None if no entry point
    said one), unless it has one: a save retried after a conflict keeps the first."""
    cause = current.get()
    for event in events:
        if isinstance(event, Aggregate.Event) and "cause" not in vars(event):
            object.__setattr__(event, "cause", cause)  # events are frozen dataclasses
