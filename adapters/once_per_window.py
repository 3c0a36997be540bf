"""Once per window, across every process (implements `domain.ports.Gate`): SET NX EX in
Redis, so the first caller in a window wins and every other caller in it is told no.
Not a limit on anyone: it keeps a frequent, harmless action (recording that an API key
was used) from becoming one event per request."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from redis.asyncio import Redis


class RedisOncePerWindow:
    """A name this process asked Redis about less than `seconds` ago is answered no here,
    without a round trip: it is asked on every API-key request, and only the first caller
    of each window may pass anyway. (So a name asked about all the time passes at least
    once every two windows, never more than once in one.)"""

    def __init__(self, redis: Redis, key: Callable[..., str]):
        """`key`: `Settings.redis_key`, every key under the deployment's namespace."""
        self.redis = redis
        self.key = key
        self._asked: dict[str, float] = {}

    async def first_in(self, name: str, seconds: int) -> bool:
        """True for the first caller with `name` in a window of `seconds`."""
        now = time.monotonic()
        if now - self._asked.get(name, -math.inf) < seconds:
            return False
        if len(self._asked) > 10_000:  # forget what is past its window
            self._asked = {n: t for n, t in self._asked.items() if now - t < seconds}
        self._asked[name] = now
        return bool(await self.redis.set(self.key("gate", name), b"1", nx=True, ex=seconds))
