"""Password hashing with argon2id (argon2-cffi), off the event loop, under a cap.

A hash takes tens of milliseconds of CPU and 64 MiB on purpose, so it runs in a worker
thread (cffi releases the GIL): the web process keeps answering other requests meanwhile.
At most `concurrency` hashes run at once (one per core by default: more would only share
the same cores), and at most `queue` more wait for a slot; a sign-in flood beyond that is
refused at once with 429 and `Retry-After` instead of queueing without end and taking the
memory of one hash per waiting request.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.errors import RateLimited

T = TypeVar("T")

#: tests only (`BACKLYNK_FAST_PASSWORD_HASHING`): argon2id at its cheapest, same code path
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)

#: a refused hash is retried after this long: a slot frees within a few hash times
RETRY_AFTER_S = 1


class HashingSlots:
    """A semaphore with a bounded waiting line."""

    def __init__(self, concurrency: int, queue: int):
        self.concurrency = concurrency
        self.queue = queue
        self._free = asyncio.Semaphore(concurrency)
        self._waiting = 0

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self._free.locked() and self._waiting >= self.queue:
            raise RateLimited(
                "Too many sign-ins are being checked right now; retry in a moment.",
                retry_after=RETRY_AFTER_S,
            )
        self._waiting += 1
        try:
            await self._free.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            self._free.release()


def _cores() -> int:
    """The cores this process may run on (a container's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class Argon2Passwords:
    """Implements `domain.ports.PasswordHasher` (argon2-cffi's RFC 9106 low-memory
    profile: argon2id, t=3, m=64 MiB, p=4)."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        concurrency: int = 0,
        queue: int = 0,
    ):
        self._hasher = hasher or PasswordHasher(type=Type.ID)
        slots = concurrency or _cores()
        self._slots = HashingSlots(slots, queue or 4 * slots)
        # verified against when the email is unknown, with the same parameters as real
        # hashes, so that both paths cost the same
        self._dummy = self._hasher.hash("backlynk: no such account")

    async def hash(self, password: str) -> str:
        return await self._slots.run(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._slots.run(self._verify, password_hash, password)

    async def verify_nothing(self, password: str) -> None:
        await self._slots.run(self._verify, self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return False

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
