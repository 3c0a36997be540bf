"""Bounded retry of a load-change-save operation that lost an optimistic-concurrency race."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.errors import ConcurrencyConflict

T = TypeVar("T")

ATTEMPTS = 5


async def retry_on_conflict(operation: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    """Run `operation` again (it reloads what it changes) when another writer got there
    first; after `attempts` losses the conflict reaches the caller as a 409."""
    for _ in range(attempts - 1):
        try:
            return await operation()
        except ConcurrencyConflict:
            continue
    return await operation()
