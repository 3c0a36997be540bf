"""Bounded retry of a use case that lost an optimistic-concurrency race."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.errors import ConcurrencyConflict

T = TypeVar("T")

ATTEMPTS = 60


async def on_conflict(attempt: Callable[[], Awaitable[T]], *, attempts: int = ATTEMPTS) -> T:
    """Run `attempt` (which must load fresh state each time) until it saves without a
    conflict. In-process appends are group-committed, so each round has one winner per
    aggregate; a short random pause spreads out writers in other processes."""
    for n in range(attempts):
        try:
            return await attempt()
        except ConcurrencyConflict:
            if n == attempts - 1:
                raise
            # full jitter, exponential up to 0.2 s: writers in other processes (workers
            # consuming the same quota) get out of each other's way
            await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**n)))
    raise AssertionError("unreachable")
