"""Wiring: the real adapters behind `domain.ports.AuthPorts`."""

from __future__ import annotations

from adapters.api_keys import RandomSecrets
from adapters.clock import SystemClock
from adapters.infrastructure import Infrastructure
from adapters.passwords import Argon2Passwords
from adapters.throttle import RedisGate, RedisLoginThrottle
from adapters.tokens import JwtAccessTokens
from domain.ports import AuthPorts


def auth_ports(infra: Infrastructure) -> AuthPorts:
    settings = infra.settings
    return AuthPorts(
        repository=infra.repository,
        passwords=Argon2Passwords(),
        tokens=JwtAccessTokens(settings.signing_secret),
        secrets=RandomSecrets(),
        clock=SystemClock(),
        throttle=RedisLoginThrottle(infra.redis, settings.redis_key),
        gate=RedisGate(infra.redis, settings.redis_key),
    )
