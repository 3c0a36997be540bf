"""Batch apply == per-event apply, for every read model, over random event sequences.

Each example writes a random sequence of one projection's events (few ids, so that several
events meet in one row; updates of rows that do not exist; duplicates; now and then a
value the database refuses) into two schemas: one applied an event at a time (the
oracle), the other in random chunks through `apply_batch`, as the runner does. A chunk the
batch refuses is applied one event at a time, as the runner falls back. The tables must be
equal, and a batch must never accept a chunk in which the per-event path fails.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.account import Account
from domain.api_key import ApiKey
from domain.backlink import OUTCOMES, STATUSES, Backlink, Change, Evidence
from domain.job import Job, JobStatus, Task, TaskError, TaskStatus
from domain.quota import Quota
from domain.site import Site
from projections.registry import read_models

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make(cls: type, oid: uuid.UUID, version: int, when: datetime, **fields: Any) -> Any:
    """An event of `cls` as a decoded one looks (fields it does not get are None)."""
    given_ = {"originator_id": oid, "originator_version": version, "timestamp": when}
    given_.update(fields)
    if "originator_topic" in {f.name for f in dataclasses.fields(cls)}:
        given_.setdefault("originator_topic", "x")
    return cls(**{f.name: given_.get(f.name) for f in dataclasses.fields(cls)})


def text(rnd: random.Random, poison: bool) -> str:
    """Short text; with `poison`, sometimes a NUL (Postgres refuses it in text)."""
    value = rnd.choice(["a", "b", "ü", "long text " * 3, ""])
    return value + "\x00" if poison and rnd.random() < 0.04 else value


class Gen:
    """Random events over a few ids, versions and timestamps that go up."""

    def __init__(self, rnd: random.Random, poison: bool, ids: int = 3):
        self.rnd, self.poison = rnd, poison
        self.ids = [uuid.uuid4() for _ in range(ids)]
        self.versions: dict[uuid.UUID, int] = {}
        self.now = T0

    def event(self, cls: type, oid: uuid.UUID | None = None, **fields: Any) -> Any:
        oid = oid or self.rnd.choice(self.ids)
        self.versions[oid] = self.versions.get(oid, 0) + 1
        self.now += timedelta(seconds=self.rnd.randint(0, 3))  # equal instants too
        return make(cls, oid, self.versions[oid], self.now, **fields)

    def text(self) -> str:
        return text(self.rnd, self.poison)

    def maybe(self, value: Any) -> Any:
        return value if self.rnd.random() < 0.7 else None


def accounts(g: Gen) -> Any:
    r = g.rnd
    kind = r.choice(["registered", "registered", "plan", "rehashed", "key", "unkey"])
    if kind == "registered":
        return g.event(
            Account.Registered,
            email=g.text(),
            name=g.maybe(g.text()),
            password_hash="h",
            plan_code=r.choice(["free", "pro"]),
        )
    if kind == "plan":
        return g.event(Account.PlanChanged, plan_code=r.choice(["free", "pro", g.text()]))
    if kind == "rehashed":
        return g.event(Account.PasswordRehashed, password_hash="h2")
    cls = Account.ApiKeyAdded if kind == "key" else Account.ApiKeyRemoved
    return g.event(cls, key_id=uuid.uuid4())


def api_keys(g: Gen) -> Any:
    r = g.rnd
    kind = r.choice(["created", "created", "used", "used", "revoked"])
    if kind == "created":
        return g.event(
            ApiKey.Created, account_id=uuid.uuid4(), name=g.text(), prefix="bk_", key_hash="h"
        )
    cls = ApiKey.Used if kind == "used" else ApiKey.Revoked
    return g.event(cls, at=g.now + timedelta(seconds=r.randint(-5, 5)))


def sites(g: Gen) -> Any:
    r = g.rnd
    kind = r.choice(["registered", "updated", "updated", "archived"])
    if kind == "registered":
        return g.event(
            Site.Registered,
            account_id=uuid.uuid4(),
            url=f"https://{g.text()}.example.com/",
            domain="example.com",
            name=g.text(),
            description=g.maybe(g.text()),
            category=g.maybe("blog"),
            keywords=[g.text() for _ in range(r.randint(0, 3))],
            contact_email=g.maybe("a@example.com"),
        )
    if kind == "updated":
        options = {
            "name": lambda: g.text(),
            "description": lambda: g.maybe(g.text()),
            "category": lambda: g.maybe("news"),
            "keywords": lambda: [g.text() for _ in range(r.randint(0, 2))],
            "contact_email": lambda: g.maybe("b@example.com"),
            "not_a_column": lambda: "ignored",
        }
        names = r.sample(sorted(options), r.randint(0, 3))
        return g.event(Site.Updated, changes={n: options[n]() for n in names})
    return g.event(Site.Archived)


def jobs(g: Gen) -> Any:
    r = g.rnd
    directories = [1, 2, 3] + ([2**31] if g.poison and r.random() < 0.03 else [])
    kind = r.choice(
        ["created", "created", "started", "finished", "task", "task", "task", "task", "cancel"]
    )
    if kind == "created":
        chosen = r.sample(directories, r.randint(0, len(directories)))
        if g.poison and chosen and r.random() < 0.05:
            chosen.append(chosen[0])  # the same task twice: its second INSERT fails
        tasks = [
            Task(
                d,
                g.text(),
                r.choice(list(TaskStatus)),
                attempts=r.randint(0, 2),
                listing_url=g.maybe(None),
                error=r.choice([None, TaskError("code", g.text())]),
            )
            for d in chosen
        ]
        return g.event(
            Job.Created,
            account_id=uuid.uuid4(),
            site_id=uuid.uuid4(),
            period="2026-01",
            tasks=tasks,
        )
    if kind == "started":
        return g.event(Job.Started)
    if kind == "finished":
        return g.event(Job.Finished, status=r.choice(list(JobStatus)))
    if kind == "cancel":
        cls = r.choice([Job.Canceled, Job.CancelRequested])
        return g.event(cls, directory_ids=r.sample(directories, r.randint(0, 3)))
    d = r.choice(directories)
    cls = r.choice(
        [
            Job.TaskSubmitting,
            Job.TaskSubmitted,
            Job.TaskRetryScheduled,
            Job.TaskFailed,
            Job.TaskVerified,
            Job.TaskCanceled,
        ]
    )
    return g.event(
        cls,
        directory_id=d,
        listing_url=g.maybe(f"https://d/{g.text()}"),
        backlink_id=uuid.uuid4(),
        attempts=r.randint(0, 3),
        code=g.text(),
        details=g.text(),
    )


def usage(g: Gen) -> Any:
    r = g.rnd
    kind = r.choice(["opened", "reserved", "reserved", "consumed", "released"])
    if kind == "opened":
        # one account: a second quota of a period fails on UNIQUE (account_id, period)
        period = r.choice(["2026-01", "2026-02", "2026-03", "2026-04"])
        return g.event(Quota.Opened, account_id=g.ids[0], period=period)
    units = r.randint(1, 5) if not g.poison or r.random() > 0.03 else 2**31
    cls = {"reserved": Quota.Reserved, "consumed": Quota.Consumed, "released": Quota.Released}
    return g.event(cls[kind], job_id=uuid.uuid4(), units=units)


def backlinks(g: Gen) -> Any:
    r = g.rnd
    evidence = Evidence(
        source_url=f"https://dir/{g.text()}",
        has_link=r.random() < 0.5,
        target_url=g.maybe("https://site/"),
        anchor_text=g.maybe(g.text()),
        link_type=g.maybe(r.choice(["dofollow", "nofollow"])),
        rel_attributes=[g.text() for _ in range(r.randint(0, 2))],
        http_status=g.maybe(r.choice([200, 404, 500])),
        indexable=r.random() < 0.5,
        error=g.maybe(r.choice(["timeout", g.text()])),
    )
    kind = r.choice(["discovered", "added", "checked", "lost", "recovered", "unreachable"])
    if kind == "discovered":
        return g.event(
            Backlink.Discovered,
            account_id=uuid.uuid4(),
            site_id=uuid.uuid4(),
            directory_id=r.randint(1, 9),
            job_id=uuid.uuid4(),
            evidence=evidence,
        )
    if kind == "added":
        return g.event(
            Backlink.Added,
            account_id=uuid.uuid4(),
            site_id=uuid.uuid4(),
            page_url=f"https://page/{g.text()}",
        )
    cls = {
        "checked": Backlink.Checked,
        "lost": Backlink.Lost,
        "recovered": Backlink.Recovered,
        "unreachable": Backlink.BecameUnreachable,
    }
    return g.event(
        cls[kind],
        evidence=evidence,
        status=r.choice(STATUSES),
        outcome=r.choice(OUTCOMES),
        failures=r.randint(0, 3),
        changes=[Change(g.text(), r.choice([None, 200, True, g.text()]), [g.text()])],
    )


def reports(g: Gen) -> Any:
    """The report read models read Job, Backlink and Quota events: a mix of them over the
    same few ids (a quota event's job is one of them too), and now and then a backlink
    that no directory gave (added by hand)."""
    r = g.rnd
    pick = r.random()
    if pick < 0.4:
        return jobs(g)
    if pick < 0.6:
        kind = r.choice([Quota.Reserved, Quota.Consumed, Quota.Released])
        units = r.randint(1, 5) if not g.poison or r.random() > 0.05 else 2**31
        return g.event(kind, uuid.uuid4(), job_id=r.choice(g.ids), units=units)
    event = backlinks(g)
    if isinstance(event, Backlink.Discovered) and r.random() < 0.2:
        event = dataclasses.replace(event, directory_id=None, job_id=None)
    return event


def audit(g: Gen) -> Any:
    """Any audited aggregate's events over the same few ids: a creation names the owner
    (or none), later events are filed under it, or dropped when there is none."""
    return g.rnd.choice([accounts, api_keys, sites, jobs, usage, backlinks])(g)


GENERATORS: dict[str, Callable[[Gen], Any]] = {
    "audit": audit,
    "accounts": accounts,
    "api_keys": api_keys,
    "sites": sites,
    "jobs": jobs,
    "usage": usage,
    "backlinks": backlinks,
    "reports": reports,
}
PROJECTIONS = {p.name: p for p in read_models()}


def test_every_batched_read_model_is_compared_here():
    batched = {name for name, p in PROJECTIONS.items() if hasattr(p, "apply_batch")}
    assert batched <= set(GENERATORS), "give the new projection a generator above"


async def contents(conn: asyncpg.Connection, tables: tuple[str, ...]) -> dict[str, list]:
    out = {}
    for table in tables:
        rows = await conn.fetch(f"SELECT * FROM {table}")
        out[table] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return out


@pytest.fixture
async def schemas(infra, settings):
    """Two connections, each with a schema of its own first on its search path."""
    suffix = uuid.uuid4().hex[:8]
    names = [f"oracle_{suffix}", f"batched_{suffix}"]
    conns = []
    for name in names:
        await infra.pool.execute(f"CREATE SCHEMA {name}")
        conns.append(
            await asyncpg.connect(settings.database_url, server_settings={"search_path": name})
        )
    try:
        for conn in conns:
            for projection in PROJECTIONS.values():
                for statement in projection.ddl:
                    await conn.execute(statement)
        yield conns
    finally:
        for conn in conns:
            await conn.close()
        for name in names:
            await infra.pool.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.mark.parametrize("name", sorted(GENERATORS))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32), poison=st.booleans(), size=st.integers(1, 60))
async def test_batch_apply_equals_per_event_apply(schemas, name, seed, poison, size):
    oracle, batched = schemas
    projection = PROJECTIONS[name]
    for conn in schemas:
        await conn.execute(f"TRUNCATE {', '.join(projection.tables)}")
    g = Gen(random.Random(seed), poison)
    events = [(GENERATORS[name](g), n) for n in range(1, size + 1)]

    # the oracle: one event at a time, stopping at the first it cannot apply
    failed_at = len(events)
    for index, (event, n) in enumerate(events):
        try:
            async with oracle.transaction():
                await projection.apply(oracle, event, n)
        except Exception:
            failed_at = index
            break

    # the runner's way: chunks through apply_batch; a refused chunk one event at a time
    start, stopped = 0, False
    while start < len(events) and not stopped:
        end = min(len(events), start + g.rnd.randint(1, 25))
        chunk = events[start:end]
        try:
            async with batched.transaction():
                await projection.apply_batch(batched, chunk)
            assert not start <= failed_at < end, f"the batch took event {failed_at}"
        except AssertionError:
            raise
        except Exception as refused:
            # refusing is always safe (the runner falls back); it must be rare: only for a
            # chunk the per-event path fails on too, or for one of the poisoned values
            # the batch refuses without trying (see `projections.batch`)
            assert start <= failed_at < end or poison, f"refused: {refused!r}"
            for event, n in chunk:
                try:
                    async with batched.transaction():
                        await projection.apply(batched, event, n)
                except Exception:
                    stopped = True
                    break
        start = end

    assert await contents(batched, projection.tables) == await contents(oracle, projection.tables)
