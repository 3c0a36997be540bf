"""Politeness holds across real worker processes: while one `backlynk worker` is inside a
submission to a directory server, another worker's submission to that server waits, gives
way (arq retries it) and goes only after the first has finished and the per-host delay has
passed."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time

import pytest
from aiohttp import web
from redis.asyncio import Redis

from tests.test_workers_e2e import by_directory, get, start_job
from tests.workers_support import Sandbox, Workers, eventually

pytestmark = pytest.mark.xdist_group("processes")

DIRECTORY = 2  # the sandbox's JSON directory: one POST per submission
SUBMIT_PATH = "/saas-hub/api/listings"
HOST_DELAY = 0.5
WAIT = 60.0  # generous: the machine may be busy


class Recorder:
    """Records when each submission reached the directory server and when it was answered,
    holding the first answer until released."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.in_flight = self.most_in_flight = 0
        self.first_arrived, self.release_first = asyncio.Event(), asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.method != "POST" or request.path != SUBMIT_PATH:
            return await handler(request)
        start = time.monotonic()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if not self.first_arrived.is_set():
                self.first_arrived.set()
                await self.release_first.wait()
            return await handler(request)
        finally:
            self.in_flight -= 1
            self.spans.append((start, time.monotonic()))


@pytest.fixture
async def recorded_sandbox(infra):
    box = Sandbox()
    recorder = Recorder()
    box.app.middlewares.append(recorder.middleware)
    await box.start(infra.pool)
    yield box, recorder
    recorder.release_first.set()
    await box.close()


async def test_a_second_worker_process_waits_for_the_first_ones_turn_at_a_host(
    api, infra, isolated_settings, recorded_sandbox
):
    _, recorder = recorded_sandbox
    # leases (the job timeout) far longer than the first worker is frozen
    workers = Workers(
        isolated_settings, BACKLYNK_HOST_DELAY=str(HOST_DELAY), BACKLYNK_JOB_TIMEOUT="120"
    )
    redis = Redis.from_url(isolated_settings.redis_url)
    try:
        first = workers.start()
        tokens1, job1, _ = await start_job(api, infra, [DIRECTORY])
        await asyncio.wait_for(recorder.first_arrived.wait(), WAIT)
        # the first worker is inside its submission, holding the host: freeze it there,
        # so that the second worker is the only one taking jobs
        first.send_signal(signal.SIGSTOP)
        workers.start()
        tokens2, job2, _ = await start_job(api, infra, [DIRECTORY])
        tries = f"arq:retry:submit:{job2['id'].removeprefix('job_')}:{DIRECTORY}:*"

        async def refused_at_least_once() -> bool:
            counts = [int(await redis.get(k) or 0) async for k in redis.scan_iter(match=tries)]
            return any(n >= 2 for n in counts)

        async def at_the_server() -> str:
            return f"in flight {recorder.in_flight}, answered {recorder.spans}"

        # the second worker tried, waited for the host, gave way and is trying again
        await eventually(refused_at_least_once, timeout=WAIT, every=0.1, describe=at_the_server)
        assert recorder.spans == [] and recorder.in_flight == 1

        first.send_signal(signal.SIGCONT)
        recorder.release_first.set()

        async def both_submitted() -> bool:
            jobs = [
                await get(api, t, f"/api/v1/jobs/{j['id']}")
                for t, j in ((tokens1, job1), (tokens2, job2))
            ]
            return all(by_directory(j)[DIRECTORY][0] in {"submitted", "verified"} for j in jobs)

        await eventually(both_submitted, timeout=WAIT)
    finally:
        for proc in workers.procs:
            proc.send_signal(signal.SIGCONT)
        workers.stop()
        await redis.aclose()
    assert len(recorder.spans) == 2 and recorder.most_in_flight == 1
    for (_, end), (start, _) in itertools.pairwise(sorted(recorder.spans)):
        assert start - end >= HOST_DELAY * 0.95  # the delay, counted from the answer
