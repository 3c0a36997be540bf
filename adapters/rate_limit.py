"""Rate limits kept in Redis, so they hold across every web process (ARCHITECTURE.md,
scale-out). A fixed window that opens with the first request of a client: simple,
one round trip, and its `Retry-After` is exact."""

from __future__ import annotations

import math

from redis.asyncio import Redis

from adapters.settings import Settings

# INCR and the window's expiry in one atomic step; a key that somehow lost its expiry
# gets one again rather than limiting a client forever.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RateLimiter:
    def __init__(self, redis: Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self._hit = redis.register_script(_HIT)

    async def hit(self, bucket: str, client: str, *, limit: int, window_s: int = 60) -> int:
        """Count one request of `client` in `bucket`. Returns 0 if it is within `limit`
        per `window_s`, else the whole seconds until the window reopens (≥ 1)."""
        key = self.settings.redis_key("rate", bucket, client)
        count, ttl_ms = await self._hit(keys=[key], args=[window_s * 1000])
        if int(count) <= limit:
            return 0
        return max(1, math.ceil(int(ttl_ms) / 1000))
