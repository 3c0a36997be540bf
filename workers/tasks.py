"""arq task functions: thin wrappers that load what a flow needs from the worker's context
and call the application services of delivery, verification and monitoring
(`domain.services`); when work is due is the domain's (`domain.task_schedule`,
`domain.cron_windows`), arq job ids are `adapters.queue_ids`.

One task per arq job and short timeouts: a killed worker's unfinished job is run again by
another worker as soon as arq's lease on it expires (the job timeout), and the services
make that repeat harmless. What a task or cron job saves records it as its cause
(`{"kind": "worker", "name": "submit_task"}`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from arq.worker import Retry

from adapters import metrics, queue_ids
from adapters.causes import task_cause
from adapters.infrastructure import Infrastructure, open_infrastructure
from adapters.politeness import HostBusy, Politeness
from adapters.queue import TaskQueue
from adapters.settings import Settings
from adapters.submitters import Submitter
from adapters.wiring import Ports, wire
from domain import cron_windows
from domain.cause import CauseKind
from domain.job import IN_FLIGHT, UNFINISHED, TaskStatus
from domain.services import delivery, monitoring, verification, webhook_delivery
from domain.services.delivery import Delivery

log = logging.getLogger("backlynk.worker")


def _sql_list(statuses: tuple[str, ...]) -> str:
    return ", ".join(f"'{status}'" for status in statuses)


# built once; the statuses are inlined so that the partial index on waiting tasks applies
_STALLED_JOBS = f"""SELECT DISTINCT j.id FROM jobs j JOIN job_tasks t ON t.job_id = j.id
    WHERE j.status IN ({_sql_list(UNFINISHED)}) AND t.status IN ({_sql_list(IN_FLIGHT)})
      AND t.updated_at < now() - $1::interval LIMIT 500"""
_STALE_RESERVATIONS = (
    f"SELECT job_id, directory_id FROM job_tasks WHERE status = '{TaskStatus.PENDING}' "
    "AND updated_at < now() - $1::interval LIMIT 500"
)


async def startup(ctx: dict[str, Any]) -> None:
    """Wire the process once: `ctx["settings"]` comes from `backlynk worker`
    (`workers.settings.worker_options`)."""
    settings: Settings = ctx["settings"]
    infra = await open_infrastructure(settings, pool_size=5)
    ports = wire(infra, settings)
    ctx["infra"], ctx["ports"], ctx["queue"] = infra, ports, ports.queue
    ctx["delivery"] = Delivery(
        repo=ports.repository,
        catalogue=ports.catalogue,
        submitter=Submitter(infra.fetcher.form_session, timeout=settings.job_timeout * 2 / 3),
        inspector=ports.page_inspector,
        gate=Politeness(
            infra.redis,
            settings,
            global_limit=settings.submit_concurrency,
            host_delay=settings.host_delay,
            max_wait=5.0,
            # a dead worker's slot frees itself when its job could no longer be running
            lease=settings.job_timeout,
        ),
        clock=ports.clock,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    ports: Ports = ctx["ports"]
    await ports.close()
    infra: Infrastructure = ctx["infra"]
    await infra.close()


def _delivery(ctx: dict[str, Any]) -> Delivery:
    return ctx["delivery"]


@task_cause(CauseKind.WORKER)
async def run_job(ctx: dict[str, Any], job_hex: str) -> int:
    """Start a job and fan its tasks out, one arq job each."""
    queue: TaskQueue = ctx["queue"]
    job_id = UUID(hex=job_hex)
    waiting = await delivery.run_job(_delivery(ctx), job_id)
    for directory_id, attempts in waiting:
        # the attempt count is in the id: fanning out the same state again is a no-op
        arq_id = queue_ids.submit_task(job_id, directory_id, attempts)
        await queue.enqueue("submit_task", job_hex, directory_id, job_id=arq_id)
    return len(waiting)


@task_cause(CauseKind.WORKER)
async def submit_task(ctx: dict[str, Any], job_hex: str, directory_id: int) -> str:
    try:
        outcome = await delivery.deliver(_delivery(ctx), UUID(hex=job_hex), directory_id)
    except HostBusy as busy:
        # the directory host is serving another submission: come back instead of
        # holding a worker slot (arq re-queues this same job id)
        raise Retry(defer=busy.retry_in) from None
    log.info("submit %s/%s: %s", job_hex, directory_id, outcome)
    return outcome


@task_cause(CauseKind.WORKER)
async def verify_listing(ctx: dict[str, Any], job_hex: str, directory_id: int, attempt: int) -> str:
    job_id = UUID(hex=job_hex)
    look = await verification.verify(_delivery(ctx), job_id, directory_id, attempt)
    metrics.VERIFICATIONS.labels(look.outcome).inc()
    if look.again_in is None:
        return look.outcome
    delay = look.again_in
    await ctx["queue"].enqueue(
        "verify_listing",
        job_hex,
        directory_id,
        attempt + 1,
        job_id=queue_ids.verify_listing(job_id, directory_id, attempt + 1),
        defer_by=delay,
    )
    return f"looking again in {delay}"


@task_cause(CauseKind.WORKER)
async def recheck_backlink(ctx: dict[str, Any], backlink_hex: str) -> str:
    """Check a backlink's page once (the cron's re-checks, an added link's first check and
    the re-checks asked for through the API all come here)."""
    backlink, outcome = await monitoring.recheck(_delivery(ctx), UUID(hex=backlink_hex))
    metrics.RECHECKS.labels(outcome).inc()
    return f"{outcome}: {backlink.status}"


@task_cause(CauseKind.CRON)
async def send_webhooks(ctx: dict[str, Any]) -> int:
    """Cron, every few seconds: send every webhook delivery that is due (claimed in the
    outbox, so workers running it at once never post the same delivery twice)."""
    ports: Ports = ctx["ports"]
    return await webhook_delivery.send_due(ports.deliveries)


@task_cause(CauseKind.CRON)
async def recheck_backlinks(ctx: dict[str, Any]) -> int:
    """Cron: queue a re-check of every backlink not checked for `recheck_hours`."""
    settings: Settings = ctx["settings"]
    infra: Infrastructure = ctx["infra"]
    every = timedelta(hours=settings.recheck_hours)
    due = await infra.read_pool.fetch(
        "SELECT id, last_checked_at FROM backlinks WHERE last_checked_at < now() - $1::interval "
        "ORDER BY last_checked_at LIMIT 1000",
        every,
    )
    period = cron_windows.recheck_period(infra.clock.now(), every)
    for row in due:
        job_id = queue_ids.recheck_backlink(row["id"], row["last_checked_at"], period)
        await ctx["queue"].enqueue("recheck_backlink", row["id"].hex, job_id=job_id)
    return len(due)


@task_cause(CauseKind.CRON)
async def resume_stalled_jobs(ctx: dict[str, Any]) -> int:
    """Cron safety net: a queued or running job whose tasks wait with nothing queued for
    them (Redis lost its data, say) is fanned out again; arq ids keep this idempotent."""
    infra: Infrastructure = ctx["infra"]
    rows = await infra.read_pool.fetch(_STALLED_JOBS, cron_windows.STALLED_AFTER)
    window = cron_windows.resume_window(infra.clock.now())
    for row in rows:
        job_id = queue_ids.resume_job(row["id"], window)
        await ctx["queue"].enqueue("run_job", row["id"].hex, job_id=job_id)
    return len(rows)


@task_cause(CauseKind.CRON)
async def expire_stale_reservations(ctx: dict[str, Any]) -> int:
    """Cron: pending tasks untouched for `reservation_days` release their quota."""
    settings: Settings = ctx["settings"]
    infra: Infrastructure = ctx["infra"]
    rows = await infra.read_pool.fetch(
        _STALE_RESERVATIONS, timedelta(days=settings.reservation_days)
    )
    expired = 0
    for row in rows:
        expired += await delivery.expire_reservation(
            infra.repository, row["job_id"], row["directory_id"], settings.reservation_days
        )
    return expired
