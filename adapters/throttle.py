"""Limits kept in Redis, so they hold across every web process.

`RedisLoginThrottle` counts sign-in attempts per email and per client (IPv4 address or
IPv6 /64) in fixed windows. An attempt is counted *before* its password is checked, in one
atomic Redis step that also refuses it (429) once a counter has reached its limit — so a
parallel burst gets no more password checks than the limit, and a refused guess costs the
attacker nothing useful and us no argon2 time. A successful sign-in clears the email's
counter and gives its slot back to the client's, which therefore counts failures only (one
correct password must not reset a guessing run over other accounts).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

from redis.asyncio import Redis

from adapters.rate_limit import client_key
from domain.errors import RateLimited

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 30

#: `Settings.redis_key`: every key under the deployment's namespace
KeyFactory = Callable[..., str]

# KEYS: the email's counter, the client's; ARGV: window ms, their limits. Refuses with
# {1, ms left} when a counter is full, else counts the attempt on both and answers {0, 0}.
_ATTEMPT = """
for i = 1, 2 do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[1])
      ttl = tonumber(ARGV[1])
    end
    return {1, ttl}
  end
end
for i = 1, 2 do
  -- the window opens with the first attempt and later ones do not extend it
  if redis.call('INCR', KEYS[i]) == 1 or redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  end
end
return {0, 0}
"""

# KEYS: the email's counter, the client's. A success clears the first and gives one slot
# back to the second (never below zero, never recreating an expired window).
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
"""


class RedisLoginThrottle:
    """Implements `domain.ports.LoginThrottle`."""

    def __init__(
        self,
        redis: Redis,
        key: KeyFactory,
        *,
        window: int = WINDOW_SECONDS,
        per_email: int = MAX_FAILURES_PER_EMAIL,
        per_ip: int = MAX_FAILURES_PER_IP,
    ):
        self.redis = redis
        self.key = key
        self.window = window
        self.per_email = per_email
        self.per_ip = per_ip
        self._attempt = redis.register_script(_ATTEMPT)
        self._succeeded = redis.register_script(_SUCCEEDED)

    def _keys(self, email_key: str, client_ip: str) -> list[str]:
        # emails are hashed so that Redis holds no address book
        digest = hashlib.sha256(email_key.encode()).hexdigest()[:32]
        return [
            self.key("login-failures", "email", digest),
            self.key("login-failures", "ip", client_key(client_ip)),
        ]

    async def attempt(self, email_key: str, client_ip: str) -> None:
        refused, ttl_ms = await self._attempt(
            keys=self._keys(email_key, client_ip),
            args=[self.window * 1000, self.per_email, self.per_ip],
        )
        if int(refused):
            raise RateLimited(
                "Too many failed sign-in attempts; try again later.",
                retry_after=math.ceil(int(ttl_ms) / 1000),
            )

    async def succeeded(self, email_key: str, client_ip: str) -> None:
        await self._succeeded(keys=self._keys(email_key, client_ip), args=[])
