"""A real `backlynk worker` process consumes this run's queue in Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from arq import create_pool
from arq.connections import RedisSettings

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = pytest.mark.xdist_group("heavy")


async def test_a_real_worker_process_runs_a_queued_job(settings):
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "BACKLYNK_REDIS_NAMESPACE": settings.redis_namespace,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "backlynk_cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    redis = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=settings.queue_name
    )
    try:
        job = await redis.enqueue_job("echo", {"hello": "worker"})
        assert job is not None
        assert await job.result(timeout=20) == {"hello": "worker"}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
        await redis.aclose()
