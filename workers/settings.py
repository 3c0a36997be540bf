"""arq `WorkerSettings` for `backlynk worker`."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from adapters.settings import load


async def echo(ctx: dict[str, Any], payload: Any) -> Any:
    """Round-trip check that a worker is consuming this queue (used by readiness probes
    and the end-to-end tests)."""
    return payload


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(load().redis_url)


class WorkerSettings:
    functions = [echo]
    redis_settings = redis_settings()
    job_timeout = 60
    max_tries = 3
    health_check_interval = 30
