"""Rate limits kept in Redis, so they hold across every web process (ARCHITECTURE.md,
scale-out). A fixed window that opens with the first request of a client: simple, one
round trip, and its `Retry-After` is exact.

A request spends `cost` units (1 for a request, its URL count for URLs) only when they
fit: a refused request spends nothing, so a client whose 25-URL check is refused may
still send a smaller one that fits what is left."""

from __future__ import annotations

import ipaddress
import math

from redis.asyncio import Redis

from adapters.settings import Settings
from domain.errors import RateLimited

# Check and spend in one atomic step; a key that somehow lost its expiry gets one again
# rather than limiting a client forever. Returns {0, 0} when spent, else {1, ms left}.
_TAKE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local window, cost, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if used + cost <= limit then
  if redis.call('INCRBY', KEYS[1], cost) == cost or redis.call('PTTL', KEYS[1]) < 0 then
    redis.call('PEXPIRE', KEYS[1], window)
  end
  return {0, 0}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  if used > 0 then redis.call('PEXPIRE', KEYS[1], window) end
  ttl = window
end
return {1, ttl}
"""


def client_key(ip: str) -> str:
    """What a per-client limit counts: an IPv4 address, or an IPv6 /64 — one subscriber's
    network, whose 2^64 addresses a single host may rotate through at will. An
    IPv4-mapped IPv6 address counts as its IPv4 address."""
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])
    except ValueError:
        return ip[:64] or "unknown"  # a unix socket's path, or whatever a proxy sent
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    def __init__(self, redis: Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self._take = redis.register_script(_TAKE)

    async def take(
        self, bucket: str, client: str, *, limit: int, window_s: int = 60, cost: int = 1
    ) -> int:
        """Spend `cost` of `client`'s `limit` per `window_s` in `bucket`. Returns 0 if it
        fitted, else the whole seconds until the window reopens (≥ 1)."""
        key = self.settings.redis_key("rate", bucket, client)
        refused, ttl_ms = await self._take(keys=[key], args=[window_s * 1000, cost, limit])
        if not int(refused):
            return 0
        return max(1, math.ceil(int(ttl_ms) / 1000))

    async def enforce(
        self,
        bucket: str,
        client: str,
        *,
        limit: int,
        window_s: int = 60,
        cost: int = 1,
        refusal: str,
    ) -> None:
        """`take`, raising `RateLimited` (429 with `Retry-After`) when it does not fit;
        `refusal` says which limit, the retry delay is appended."""
        retry_after = await self.take(bucket, client, limit=limit, window_s=window_s, cost=cost)
        if retry_after:
            raise RateLimited(f"{refusal} Retry in {retry_after} s.", retry_after=retry_after)
