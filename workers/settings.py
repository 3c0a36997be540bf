"""arq `WorkerSettings` for `backlynk worker`."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from adapters.settings import load

_settings = load()


async def echo(ctx: dict[str, Any], payload: Any) -> Any:
    """Round trip through the queue: proves that a worker consumes this namespace's queue
    (used by the end-to-end tests and by operators as a smoke test)."""
    return payload


class WorkerSettings:
    functions = [echo]
    redis_settings = RedisSettings.from_dsn(_settings.redis_url)
    queue_name = _settings.queue_name
    # short timeouts keep crash recovery quick (ARCHITECTURE.md: within 60 s)
    job_timeout = 60
    max_tries = 3
    health_check_interval = 30
