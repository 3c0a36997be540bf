"""Every read model rebuilt from a log of 1,000,000 events (in a database of its own).

The log is one account's story — registration, a plan change, an API key used and revoked,
two sites (one updated, one archived), a month's quota, jobs whose tasks go through
submission, retry, failure and verification, backlinks checked, lost and recovered —
copied with fresh ids until it holds `--events` events, written with COPY. Each read model
is then rebuilt from position 0 by the runner (`projections.runner.rebuild`: the runner's
batches, set-based apply); the bench prints each one's time and the events/s of the whole
replay (log events over the sum of the rebuilds). `--per-event` replays with the per-event
apply instead, for comparison (use a smaller `--events`).

    python bench/replay.py [--events N] [--per-event]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg
import msgspec
from eventsourcing.persistence import StoredEvent

from adapters.event_store import EVENTS_TABLE
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from bench.common import backend_cpu, drop_database, fresh_database
from domain.account import Account
from domain.api_key import ApiKey
from domain.backlink import FOUND, LIVE, LOST, MISSING, Backlink, Evidence
from domain.job import Job, JobStatus, Task, TaskStatus
from domain.quota import Quota
from domain.site import Site
from projections.base import Projection
from projections.registry import read_models
from projections.runner import rebuild

DB = f"backlynk_bench_replay_{os.getpid()}"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(cls: type, oid: uuid.UUID, version: int, when: datetime, **fields: Any) -> Any:
    values = {"originator_id": oid, "originator_version": version, "timestamp": when, **fields}
    names = {f.name for f in dataclasses.fields(cls)}
    if "originator_topic" in names:
        values["originator_topic"] = "bench"
    return cls(**values)


def story() -> tuple[list[Any], list[uuid.UUID]]:
    """One account's events (in order) and every id they hold."""
    ids: list[uuid.UUID] = []

    def new_id() -> uuid.UUID:
        ids.append(uuid.uuid4())
        return ids[-1]

    versions: dict[uuid.UUID, int] = {}
    clock = [T0]
    out: list[Any] = []

    def add(cls: type, oid: uuid.UUID, **fields: Any) -> None:
        versions[oid] = versions.get(oid, 0) + 1
        clock[0] += timedelta(seconds=1)
        out.append(_event(cls, oid, versions[oid], clock[0], **fields))

    account, key, quota = new_id(), new_id(), new_id()
    add(
        Account.Registered,
        account,
        email="a@example.com",
        name="A",
        password_hash="h",
        plan_code="free",
    )
    add(Account.PlanChanged, account, plan_code="pro")
    add(ApiKey.Created, key, account_id=account, name="ci", prefix="bk_live_", key_hash="h")
    for _ in range(3):
        add(ApiKey.Used, key, at=clock[0])
    add(ApiKey.Revoked, key, at=clock[0])
    site, other = new_id(), new_id()
    for s in (site, other):
        add(
            Site.Registered,
            s,
            account_id=account,
            url="https://example.com/",
            domain="example.com",
            name="Example",
            description=None,
            category="blog",
            keywords=["seo", "links"],
            contact_email=None,
        )
    add(Site.Updated, site, changes={"name": "Renamed", "keywords": ["a", "b"]})
    add(Site.Archived, other)
    add(Quota.Opened, quota, account_id=account, period="2026-01")
    evidence = Evidence(
        "https://dir.example/l/1",
        True,
        "https://example.com/",
        "Example",
        "dofollow",
        [],
        200,
        True,
    )
    gone = msgspec.structs.replace(evidence, has_link=False)
    for _ in range(4):
        job = new_id()
        directories = list(range(1, 11))
        add(Quota.Reserved, quota, job_id=job, units=len(directories))
        tasks = [Task(d, f"Directory {d}", TaskStatus.PENDING) for d in directories]
        add(Job.Created, job, account_id=account, site_id=site, period="2026-01", tasks=tasks)
        add(Job.Started, job)
        for d in directories:
            add(Job.TaskSubmitting, job, directory_id=d)
            if d % 4 == 0:
                add(
                    Job.TaskRetryScheduled,
                    job,
                    directory_id=d,
                    attempts=1,
                    code="timeout",
                    details="slow",
                )
                add(Job.TaskSubmitting, job, directory_id=d)
            if d % 5 == 0:
                add(Job.TaskFailed, job, directory_id=d, code="rejected", details="no")
                add(Quota.Released, quota, job_id=job, units=1)
                continue
            add(Job.TaskSubmitted, job, directory_id=d, listing_url=f"https://dir/{d}")
            add(Quota.Consumed, quota, job_id=job, units=1)
            backlink = new_id()
            add(Job.TaskVerified, job, directory_id=d, backlink_id=backlink)
            add(
                Backlink.Discovered,
                backlink,
                account_id=account,
                site_id=site,
                directory_id=d,
                job_id=job,
                evidence=evidence,
                page_url=None,
            )
            add(Backlink.Checked, backlink, **check(evidence, LIVE, FOUND, 0))
            if d % 3 == 0:  # lost after two misses in a row, then recovered
                add(Backlink.Checked, backlink, **check(gone, LIVE, MISSING, 1))
                add(Backlink.Lost, backlink, **check(gone, LOST, MISSING, 2))
                add(Backlink.Recovered, backlink, **check(evidence, LIVE, FOUND, 0))
        add(Job.Finished, job, status=JobStatus.COMPLETED)
    return out, ids


def check(evidence: Evidence, status: str, outcome: str, failures: int) -> dict[str, Any]:
    """The fields of a backlink check event (`domain.backlink.Backlink.CheckRecorded`)."""
    return {
        "evidence": evidence,
        "status": status,
        "outcome": outcome,
        "failures": failures,
        "changes": [],
    }


async def write_log(conn: asyncpg.Connection, total: int) -> int:
    """`total` events (whole stories, the last one cut short), by COPY; returns how many."""
    mapper = TypedMapper(MsgspecTranscoder())
    events, ids = story()
    template: list[StoredEvent] = [mapper.to_stored_event(e) for e in events]
    hexes = [i.hex.encode() for i in ids]
    written = 0
    while written < total:
        rows = []
        while len(rows) < 50_000 and written + len(rows) < total:
            fresh = {old: uuid.uuid4() for old in ids}
            for e in template[: total - written - len(rows)]:
                state = e.state
                for old, h in zip(ids, hexes, strict=True):
                    if h in state:
                        state = state.replace(h, fresh[old].hex.encode())
                rows.append((fresh[e.originator_id], e.originator_version, e.topic, state))
        await conn.copy_records_to_table(
            EVENTS_TABLE,
            records=rows,
            columns=["originator_id", "originator_version", "topic", "state"],
        )
        written += len(rows)
    await conn.execute(f"ANALYZE {EVENTS_TABLE}")
    return written


class PerEvent:
    """A projection without its `apply_batch`: the runner applies it event by event."""

    def __init__(self, projection: Projection):
        self._p = projection
        self.name, self.ddl, self.tables = projection.name, projection.ddl, projection.tables
        self.topics = projection.topics

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        await self._p.apply(conn, event, notification_id)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-event", action="store_true")
    args = parser.parse_args()
    url = await fresh_database(DB)
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        total = await write_log(conn, args.events)
        print(f"log: {total} events written in {time.perf_counter() - started:.1f} s")
        from adapters.db import connect_pool
        from adapters.event_store import PostgresEventStore

        pool = await connect_pool(url, max_size=2)
        store = PostgresEventStore(pool)
        spent = 0.0
        mode = "per-event" if args.per_event else "batch"
        for projection in read_models():
            p = PerEvent(projection) if args.per_event else projection
            pg_cpu = await backend_cpu(conn)
            began, cpu = time.perf_counter(), time.process_time()
            applied = await rebuild(conn, store, p)
            took, cpu = time.perf_counter() - began, time.process_time() - cpu
            pg_cpu = await backend_cpu(conn) - pg_cpu
            spent += took
            print(
                f"  {projection.name:15} {applied:9d} events in {took:7.1f} s "
                f"({applied / took:8.0f} events/s; CPU {cpu / applied * 1e6:5.1f} us/event, "
                f"Postgres {pg_cpu / applied * 1e6:5.1f})"
            )
        print(
            f"replay ({mode} apply) of every read model: {total / spent:8.0f} events/s "
            f"({total} log events, {spent:.1f} s); "
            f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        await pool.close()
    finally:
        await conn.close()
        await drop_database(DB)


if __name__ == "__main__":
    asyncio.run(main())
