"""Politeness toward directories, enforced in Redis so it holds across worker processes:
at most `global_limit` submissions in flight in total, one request at a time per
directory host, and `host_delay` seconds between two requests to the same host.

Both locks are leases (they expire), so a worker killed while holding one blocks nobody
for longer than `lease` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from adapters.settings import Settings

_ACQUIRE_GLOBAL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  return 1
end
return 0
"""

# 1: acquired; 0: held by another; negative: -(ms to wait for the host's delay)
_ACQUIRE_HOST = """
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return -wait end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

_RELEASE_HOST = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""


class HostBusy(Exception):
    """No slot within `max_wait`: the caller should come back in `retry_in` seconds
    rather than hold a worker."""

    def __init__(self, host: str, retry_in: float):
        super().__init__(f"{host} is busy")
        self.retry_in = retry_in


class Politeness:
    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        *,
        global_limit: int = 8,
        host_delay: float = 1.0,
        lease: float = 60.0,
        poll: float = 0.05,
        max_wait: float | None = None,
    ):
        self.redis = redis
        self.settings = settings
        self.global_limit = global_limit
        self.host_delay_ms = int(host_delay * 1000)
        self.lease_ms = int(lease * 1000)
        self.poll = poll
        self.max_wait = max_wait
        self._global = redis.register_script(_ACQUIRE_GLOBAL)
        self._host = redis.register_script(_ACQUIRE_HOST)
        self._release = redis.register_script(_RELEASE_HOST)

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a global slot and this host's turn — at most `max_wait`, then
        `HostBusy` — and release both on exit."""
        token = uuid.uuid4().hex
        global_key = self.settings.redis_key("polite", "inflight")
        lock_key = self.settings.redis_key("polite", "host", host)
        next_key = self.settings.redis_key("polite", "next", host)
        loop = asyncio.get_running_loop()
        give_up = None if self.max_wait is None else loop.time() + self.max_wait

        def check_patience() -> None:
            if give_up is not None and loop.time() > give_up:
                raise HostBusy(host, retry_in=max(self.host_delay_ms / 1000, 1.0))

        while not await self._global(
            keys=[global_key], args=[self.global_limit, self.lease_ms, token]
        ):
            check_patience()
            await asyncio.sleep(self.poll)
        try:
            while True:
                got = await self._host(keys=[lock_key, next_key], args=[token, self.lease_ms])
                if got == 1:
                    break
                check_patience()
                await asyncio.sleep(max(-got / 1000, self.poll) if got < 0 else self.poll)
        except BaseException:
            await self.redis.zrem(global_key, token)
            raise
        try:
            yield
        finally:
            await self._release(
                keys=[lock_key, next_key, global_key], args=[token, self.host_delay_ms]
            )
