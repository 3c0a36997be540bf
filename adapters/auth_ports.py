"""Wiring: the real adapters behind `domain.ports.AuthPorts`."""

from __future__ import annotations

from adapters.clock import SystemClock
from adapters.infrastructure import Infrastructure
from adapters.once_per_window import RedisOncePerWindow
from adapters.passwords import FAST_HASHER, Argon2Passwords
from adapters.random_secrets import RandomSecrets
from adapters.settings import Settings
from adapters.throttle import RedisLoginThrottle
from adapters.tokens import HmacRefreshTokens, JwtAccessTokens
from domain.ports import AuthPorts, Credentials
from domain.services.authentication import StoreCredentials


def auth_ports(
    infra: Infrastructure,
    settings: Settings | None = None,
    *,
    credentials: Credentials | None = None,
) -> AuthPorts:
    """`settings`: the app's, when they differ from the infrastructure's (tests).
    `credentials`: the web process's cache (`adapters.credential_cache`); by default
    they are read from the event store."""
    settings = settings or infra.settings
    return AuthPorts(
        repository=infra.repository,
        passwords=Argon2Passwords(
            FAST_HASHER if settings.fast_password_hashing else None,
            concurrency=settings.password_concurrency,
            queue=settings.password_queue,
        ),
        tokens=JwtAccessTokens(settings.signing_secret),
        refresh_tokens=HmacRefreshTokens(settings.signing_secret),
        secrets=RandomSecrets(),
        clock=SystemClock(),
        throttle=RedisLoginThrottle(infra.redis, settings.redis_key),
        gate=RedisOncePerWindow(infra.redis, settings.redis_key),
        credentials=credentials or StoreCredentials(infra.repository),
    )
