"""The `recheck_backlinks` cron function queues a `recheck_backlink` for each backlink not
checked for `recheck_hours`, and only once per check: running it again before the
re-check has happened queues nothing new."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
from arq.jobs import Job as ArqJob

from adapters.queue import TaskQueue
from domain.services import delivery, jobs, monitoring, verification
from domain.services.delivery import Submitted
from projections.registry import read_models
from projections.runner import ProjectorRunner, wait_for
from tests.support import Limits, job_ports, new_site
from tests.test_backlink_aggregate import LINKED
from workers import tasks


@pytest.fixture
async def ctx(settings, infra) -> Any:
    own = msgspec.structs.replace(settings, recheck_hours=24.0)
    queue = TaskQueue(own)
    yield {"settings": own, "infra": infra, "queue": queue}
    await queue.close()


@pytest.fixture
async def projector(settings, infra):
    runner = ProjectorRunner(settings.database_url, infra.store, read_models(), poll_interval=0.05)
    await runner.start()
    yield runner
    await runner.stop()


async def three_backlinks(infra, catalogue) -> list[uuid.UUID]:
    account = uuid.uuid4()
    site = await new_site(infra.repository, account)
    job, _ = await jobs.create_job(
        job_ports(infra.repository, catalogue),
        account_id=account,
        plan=Limits(),
        site_id=site.id,
        directory_ids=[1, 2, 3],
    )
    found = []
    for directory_id in (1, 2, 3):
        await delivery.begin_submission(infra.repository, job.id, directory_id)
        await delivery.record_outcome(infra.repository, job.id, directory_id, Submitted(None))
        backlink = await verification.record_listing_found(
            infra.repository, job.id, directory_id, LINKED
        )
        found.append(backlink.id)
    await projected(infra)
    return found


async def projected(infra) -> None:
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, read_models(), latest, timeout=60)


async def checked_hours_ago(infra, backlink_id: uuid.UUID, hours: float) -> None:
    """Time passes: the backlink's last check is `hours` old."""
    await infra.pool.execute(
        "UPDATE backlinks SET last_checked_at = now() - make_interval(secs => $2) WHERE id = $1",
        backlink_id,
        hours * 3600,
    )


async def queued(ctx) -> dict[str, tuple[str, tuple]]:
    """arq job id -> (function, args) of everything on this run's queue."""
    pool = await ctx["queue"].pool()
    queue_name = ctx["settings"].queue_name
    out = {}
    for raw in await pool.zrange(queue_name, 0, -1):
        job_id = raw.decode()
        info = await ArqJob(job_id, pool, _queue_name=queue_name).info()
        out[job_id] = (info.function, info.args)
    return out


async def test_only_backlinks_unchecked_for_recheck_hours_are_queued_once_per_check(
    ctx, infra, catalogue, projector
):
    stale, _fresh, recent = await three_backlinks(infra, catalogue)
    await checked_hours_ago(infra, stale, 25)
    await checked_hours_ago(infra, recent, 23)

    assert await tasks.recheck_backlinks(ctx) == 1
    first = await queued(ctx)
    assert list(first.values()) == [("recheck_backlink", (stale.hex,))]
    # the cron fires again (every 10 minutes) before a worker took the job: nothing new
    assert await tasks.recheck_backlinks(ctx) == 1
    assert await queued(ctx) == first

    # the re-check happens: the backlink is fresh again, and due only a window later
    await monitoring.record_recheck(infra.repository, stale, LINKED)
    await projected(infra)
    assert await tasks.recheck_backlinks(ctx) == 0
    assert await queued(ctx) == first
    await checked_hours_ago(infra, stale, 24.5)
    assert await tasks.recheck_backlinks(ctx) == 1
    again = await queued(ctx)
    assert len(again) == 2  # a new window, a new job id
    assert all(call == ("recheck_backlink", (stale.hex,)) for call in again.values())
