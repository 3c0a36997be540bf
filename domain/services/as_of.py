"""Time travel: an account's object as it stood at an instant (`GET …?as_of=`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from domain.errors import NotFound
from domain.ports import Repository


class Owned(Protocol):
    def check_belongs_to(self, account_id: UUID) -> None:
        """Raise the object's own not-found for another account."""
        ...


T = TypeVar("T", bound=Owned)


async def owned_as_of(
    repo: Repository,
    cls: type[T],
    aggregate_id: UUID,
    account_id: UUID,
    instant: datetime,
    not_found: Callable[[], NotFound],
) -> tuple[T, list[Any]]:
    """The `cls` `aggregate_id` as it stood at `instant`, and its events up to then.
    Before it existed it is as unknown as another account's (`not_found()`)."""
    try:
        aggregate, history = await repo.history(aggregate_id, cls, until=instant)
    except NotFound:
        raise not_found() from None
    aggregate.check_belongs_to(account_id)
    return aggregate, history
