"""Bounded retry of a use case that lost an optimistic-concurrency race."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import ConcurrencyConflict
from domain.ports import Repository

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

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


async def change(
    repo: Repository, cls: type[A], aggregate_id: UUID, command: Callable[[A], object]
) -> A:
    """Load one aggregate, apply `command` to it, save; again on a conflict."""

    async def attempt() -> A:
        aggregate = await repo.get(aggregate_id, cls)
        command(aggregate)
        await repo.save(aggregate)
        return aggregate

    return await on_conflict(attempt)
