"""Limits kept in Redis, so they hold across every web process.

`RedisLoginThrottle` counts failed logins per email and per client IP in fixed windows;
once a counter reaches its limit, further attempts are refused (429) until the window
ends — before any password is checked, so a refused guess costs the attacker nothing
useful and us no argon2 time. A successful login clears the email's counter (not the
IP's: one correct password must not reset a guessing run over other accounts).

`RedisGate` is SET NX EX: the first caller in a window wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from redis.asyncio import Redis

from domain.errors import RateLimited

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 30

#: `Settings.redis_key`: every key under the deployment's namespace
KeyFactory = Callable[..., str]


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
        self.limits = {"email": per_email, "ip": per_ip}

    def _keys(self, email_key: str, client_ip: str) -> dict[str, str]:
        # emails are hashed so that Redis holds no address book
        digest = hashlib.sha256(email_key.encode()).hexdigest()[:32]
        return {
            "email": self.key("login-failures", "email", digest),
            "ip": self.key("login-failures", "ip", client_ip or "unknown"),
        }

    async def check(self, email_key: str, client_ip: str) -> None:
        keys = self._keys(email_key, client_ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys.values():
                pipe.get(key)
                pipe.ttl(key)
            results = await pipe.execute()
        for i, kind in enumerate(keys):
            count, ttl = results[2 * i], results[2 * i + 1]
            if count is not None and int(count) >= self.limits[kind]:
                raise RateLimited(
                    "Too many failed sign-in attempts; try again later.",
                    retry_after=ttl if ttl and ttl > 0 else self.window,
                )

    async def failed(self, email_key: str, client_ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(email_key, client_ip).values():
                # the window starts at the first failure and is not extended by later
                # ones: SET NX EX creates the counter with its expiry, INCR keeps it
                pipe.set(key, 0, ex=self.window, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def succeeded(self, email_key: str) -> None:
        await self.redis.delete(self._keys(email_key, "")["email"])


class RedisGate:
    """Implements `domain.ports.Gate`."""

    def __init__(self, redis: Redis, key: KeyFactory):
        self.redis = redis
        self.key = key

    async def first_in(self, name: str, seconds: int) -> bool:
        return bool(await self.redis.set(self.key("gate", name), b"1", nx=True, ex=seconds))
