"""Once per window, across every process (implements `domain.ports.Gate`): SET NX EX in
Redis, so the first caller in a window wins and every other caller in it is told no.
Not a limit on anyone: it keeps a frequent, harmless action (recording that an API key
was used) from becoming one event per request."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis


class RedisOncePerWindow:
    def __init__(self, redis: Redis, key: Callable[..., str]):
        """`key`: `Settings.redis_key`, every key under the deployment's namespace."""
        self.redis = redis
        self.key = key

    async def first_in(self, name: str, seconds: int) -> bool:
        """True for the first caller with `name` in a window of `seconds`."""
        return bool(await self.redis.set(self.key("gate", name), b"1", nx=True, ex=seconds))
