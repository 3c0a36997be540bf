"""The cause of the work in progress, and its stamping on saved events.

An entry point says what it is — the web app per request (`api.middleware`), a worker
task or cron job (`workers.tasks`), a CLI command (`backlynk_cli`) — by setting `current`
(a context variable: each request and each task has its own, and `asyncio` hands it to
the tasks it starts). Who a request acts for is added by `identify`, the one place that
does it: called by `api.auth` once a credential is checked (access token, API key, the
dashboard's cookie), and by the services that save before that, through `RequestCallers`
(sign-ins: password, refresh token, sign-up; an API key's recorded use). The repositories
call `stamp` as they save, so the domain's commands and the application services never
carry the cause (`domain.cause`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import msgspec

from domain.aggregate import Aggregate
from domain.cause import Cause, CauseKind, Credential, Proof

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


def identify(
    account_id: uuid.UUID, credential: Credential, credential_id: uuid.UUID, by: Proof
) -> None:
    """From here on, what the request in progress saves names `account_id`, its
    credential's id and how the caller showed who they are. A request already identified
    by this same credential keeps how (the dashboard's sign-out: its cookie, before the
    refresh token the cookie holds is spent). Outside a request, nothing changes: a worker,
    a cron job or a CLI command is its own cause."""
    cause = current.get()
    if cause is None or cause.kind != CauseKind.REQUEST:
        return
    if cause.credential == credential and cause.credential_id == credential_id:
        by = cause.identified_by or by
        if cause.account_id == account_id and cause.identified_by == by:
            return  # identified so already (an API key: by its check, then by the route)
    current.set(
        msgspec.structs.replace(
            cause,
            account_id=account_id,
            credential=credential,
            credential_id=credential_id,
            identified_by=by,
        )
    )


class RequestCallers:
    """`domain.ports.Callers`: the sign-in services' way to `identify` a request's caller."""

    def identify(
        self, account_id: uuid.UUID, credential: Credential, credential_id: uuid.UUID, by: Proof
    ) -> None:
        identify(account_id, credential, credential_id, by)


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
