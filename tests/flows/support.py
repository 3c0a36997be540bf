"""Helpers for running the workers' flows in-process: the delivery, verification and
monitoring services of `domain.services` wired to the real adapters (event store,
catalogue table, form submitter, page inspector, Redis politeness), against the sandbox
directories."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import msgspec

from adapters.directories import PostgresDirectoryCatalogue, upsert
from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure
from adapters.politeness import Politeness
from adapters.settings import Settings
from adapters.submitters import Submitter
from domain import ids
from domain.directory import parse_catalogue
from domain.job import Job
from domain.services.delivery import Delivery
from tests.core.client import Client
from tests.workers_support import Sandbox


def delivery(
    infra: Infrastructure, settings: Settings, *, fetcher: Fetcher | None = None, **kw: Any
) -> Delivery:
    """The flows wired as `workers.tasks.startup` wires them (no politeness delay)."""
    fetcher = fetcher or infra.fetcher
    return Delivery(
        repo=infra.repository,
        catalogue=PostgresDirectoryCatalogue(infra.pool),
        submitter=Submitter(fetcher.form_session, timeout=kw.pop("timeout", 10.0)),
        inspector=infra.page_inspector,
        gate=Politeness(infra.redis, settings, host_delay=0),
        clock=infra.clock,
        **kw,
    )


async def add_directories(infra: Infrastructure, *entries: dict[str, Any]) -> None:
    """Put extra entries in the catalogue, as `backlynk directories import` does."""
    async with infra.pool.acquire() as conn:
        await upsert(conn, parse_catalogue(msgspec.json.encode(list(entries))))


def json_directory(directory_id: int, submit_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": directory_id,
        "name": f"Directory {directory_id}",
        "homepage_url": submit_url,
        "category": "general",
        "domain_rating": 10,
        "link_type": "dofollow",
        "turnaround_days": 0,
        "status": "active",
        "method": "json",
        "submit_url": submit_url,
        "field_map": {"url": "url", "name": "title"},
        **extra,
    }


async def new_job(client: Client, directory_ids: list[int]) -> tuple[dict, UUID, str]:
    """A site and a job for it through the API; (job JSON, job id, site domain)."""
    domain = f"shop-{uuid.uuid4().hex[:8]}.example.com"
    site = await client.add_site(
        f"https://{domain}/",
        name="Example Shop",
        description="A site about examples, long enough for every directory.",
    )
    job = await client.job(site["id"], directory_ids)
    job_id = ids.decode("job", job["id"])
    assert job_id is not None
    return job, job_id, domain


async def task_of(infra: Infrastructure, job_id: UUID, directory_id: int):
    return (await infra.repository.get(job_id, Job)).task(directory_id)


async def submissions_seen(sandbox: Sandbox, client: Client) -> dict[str, int]:
    """What the sandbox directories received, as their own `/_stats` says."""
    async with client.server.http.get(f"{sandbox.base}/_stats") as r:
        return (await r.json())["submissions"]
