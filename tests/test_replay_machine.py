"""The whole history, randomly: a hypothesis state machine drives the application services
as the API and the workers would (sign-ups and sign-ins, plan changes, API keys, sites,
jobs, cancels, submission outcomes, verification, backlink re-checks — no network: the
workers' outcomes are given to the services they call), with a live projector running
beside it, then checks what event sourcing promises:

(a) `replay --verify` (`projections.replay.verify`) finds no difference between a replay
    of the log and the live read models;
(b) a tampered row of any read model (chosen by hypothesis: a deleted row or one changed
    column) makes the diff non-empty, and the diff names that row and column;
(c) `as_of` (the services' `job_as_of` / `site_as_of`, folded rows as `GET ?as_of=`
    renders them) at every event's instant equals the aggregate folded up to that event,
    is the unknown-id 404 just before creation and for another account, and at each
    check point's instant equals the read model's row as it stood then;
(d) every report equals what `tests/report_oracle.py` computes from the exported event
    log alone (`backlynk events export`).

Every read model of `projections.registry.read_models()` is covered, so one registered
later is too. A refused command (a domain error: the plan's limits, a task in the wrong
state, another account's object) must append nothing.

Cost: one database for the run (each example truncates it, as each test does), the real
projector started per example, a snapshot every few events (so `as_of` starts from
snapshots). No timing: the checks wait for the projector's recorded positions."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from msgspec.structs import replace

from adapters.directories import PostgresDirectoryCatalogue, upsert
from adapters.event_export import export_lines
from adapters.infrastructure import Infrastructure, open_infrastructure
from adapters.repository import EventSourcedRepository, fold
from adapters.wiring import auth_ports
from domain.backlink import Evidence
from domain.directory import parse_catalogue
from domain.errors import DomainError, NotFound, RefreshTokenReused
from domain.job import Job, JobStatus, TaskStatus
from domain.plans import get_plan
from domain.ports import JobPorts
from domain.quota import period_of
from domain.services import (
    accounts,
    api_keys,
    delivery,
    jobs,
    monitoring,
    sessions,
    sites,
    verification,
)
from domain.services.authentication import StoreCredentials
from domain.services.delivery import Failed, RetryLater, Submitted
from domain.site import Site
from projections import replay
from projections.as_of import job_row_at, site_row_at
from projections.jobs import get_job
from projections.registry import read_models
from projections.report_backlinks import backlinks_over_time
from projections.report_directories import directory_stats
from projections.report_usage import usage_by_month, usage_by_site
from projections.runner import ProjectorRunner, wait_for
from projections.sites import get_site
from tests import report_oracle as oracle
from tests.conftest import truncate_all
from tests.support import catalogue_json, recheck_evidence, site_ports

pytestmark = [pytest.mark.xdist_group("heavy"), pytest.mark.timeout(600)]

ONE_MICROSECOND = timedelta(microseconds=1)
PASSWORD = "correct horse battery"
#: the `catalogue` fixture's directories, 5 (paused) and 6 (DR 80, above pro's cap) less often
DIRECTORIES = [1, 2, 3, 4, 1, 2, 3, 4, 5, 6]
URLS = ["https://a.example.com/", "https://b.example.com/", "https://a.example.com/x"]
#: a snapshot every few events, so that `as_of` and loads start from snapshots
SNAPSHOT_EVERY = 4
#: commands before the check point may come
MIDWAY = 8

OUTCOMES = [
    Submitted("https://dir.example/listing"),
    Submitted(None),
    Failed("rejected", "No."),
    Failed("captcha_required", "A captcha."),
    RetryLater("timeout", "Slow."),
    RetryLater("server_error", "HTTP 503."),
]

picks = st.integers(0, 2**16)  # an index into whichever list the rule draws from


@dataclasses.dataclass
class Account:
    id: uuid.UUID
    email: str
    plan: str
    tokens: list[str]  # every refresh token issued, spent ones too


@dataclasses.dataclass
class Owned:
    id: uuid.UUID
    account: Account


class ReplayMachine(RuleBasedStateMachine):
    """One example: a fresh database (truncated), a projector, random commands."""

    loop: asyncio.AbstractEventLoop
    infra: Infrastructure
    settings: Any

    def __init__(self) -> None:
        super().__init__()
        self.run(self._start())

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def _start(self) -> None:
        infra = self.infra
        # this example's emails and client address: a login throttle of its own
        self.tag = uuid.uuid4().hex[:8]
        self.ip = f"10.{int(self.tag[:2], 16)}.{int(self.tag[2:4], 16)}.{int(self.tag[4:6], 16)}"
        async with infra.pool.acquire() as conn:
            await truncate_all(conn)
            await upsert(conn, parse_catalogue(catalogue_json(6, paused=(5,), dr={6: 80})))
        self.repo = EventSourcedRepository(infra.store, default_interval=SNAPSHOT_EVERY)
        auth = auth_ports(infra, self.settings)
        self.auth = dataclasses.replace(
            auth, repository=self.repo, credentials=StoreCredentials(self.repo)
        )
        self.site_ports = site_ports(self.repo)
        self.job_ports = JobPorts(self.repo, PostgresDirectoryCatalogue(infra.pool), infra.clock)
        self.projections = read_models()
        self.runner = ProjectorRunner(
            self.settings.database_url, infra.store, self.projections, poll_interval=0.05
        )
        await self.runner.start()
        self.commands, self.checked = 0, False
        self.accounts: list[Account] = []
        self.sites: list[Owned] = []
        self.archived: set[uuid.UUID] = set()
        self.jobs: list[Owned] = []
        self.backlinks: list[Owned] = []
        self.keys: list[Owned] = []
        #: (kind, id, account, instant, row): the read model's row at a check point
        self.seen: list[tuple[str, uuid.UUID, uuid.UUID, Any, Any]] = []

    # -- doing ---------------------------------------------------------------------------

    def attempt(self, coroutine: Any, *, may_write_on_refusal: bool = False) -> Any:
        """Run a command; a refusal (a domain error) returns None and must append
        nothing (`may_write_on_refusal`: a refresh-token reuse revokes the session)."""

        self.commands += 1

        async def go() -> Any:
            before = await self.infra.store.max_notification_id()
            try:
                done = await coroutine
                return done
            except DomainError as refused:
                if not (may_write_on_refusal and isinstance(refused, RefreshTokenReused)):
                    after = await self.infra.store.max_notification_id()
                    assert after == before, f"{refused!r} appended events"
                return None

        return self.run(go())

    @staticmethod
    def pick(items: list[Any], index: int) -> Any:
        return items[index % len(items)]

    def acting(self, owned: Owned, intruder: int | None) -> uuid.UUID:
        """The owner, or (when `intruder` is drawn) another account: a stranger's command
        must be refused like an unknown id."""
        if intruder is None:
            return owned.account.id
        others = [a.id for a in self.accounts if a.id != owned.account.id] or [uuid.uuid4()]
        return self.pick(others, intruder)

    # -- accounts and sessions -----------------------------------------------------------

    @initialize()
    def first_account(self) -> None:
        """A paying account with a site and a job to start with (on the free plan nothing
        can be submitted; a job needs a site)."""
        self.register(name=None)
        self.change_plan(who=0, plan="pro")
        self.register_site(who=0, url=URLS[0], keywords=[])
        self.create_job(which=0, directories=[1, 2, 3])

    @precondition(lambda self: len(self.accounts) < 3)
    @rule(name=st.none() | st.sampled_from(["Ada", "Ünïcode", ""]))
    def register(self, name: str | None) -> None:
        email = f"u{len(self.accounts)}-{self.tag}@example.com"
        signed = self.attempt(sessions.register(self.auth, email, PASSWORD, name))
        if signed is not None:
            self.accounts.append(Account(signed.account.id, email, "free", [signed.refresh_token]))

    @precondition(lambda self: self.accounts)
    @rule(who=picks, which=picks, kind=st.sampled_from(["login", "wrong", "refresh", "logout"]))
    def sign_in(self, who: int, which: int, kind: str) -> None:
        """Log in (with the right password or a wrong one), refresh with one of the
        tokens issued (a spent one: reuse, the session is revoked), or log out."""
        account = self.pick(self.accounts, who)
        if kind in ("login", "wrong"):
            password = PASSWORD if kind == "login" else "wrong password!"
            login = sessions.login(self.auth, account.email, password, self.ip)
            signed = self.attempt(login)
            assert signed is None or kind == "login"
        elif kind == "refresh":
            token = self.pick(account.tokens, which)
            signed = self.attempt(sessions.refresh(self.auth, token), may_write_on_refusal=True)
        else:
            signed = self.attempt(sessions.logout(self.auth, self.pick(account.tokens, which)))
            return
        if signed is not None:
            account.tokens.append(signed.refresh_token)

    @precondition(lambda self: self.accounts)
    @rule(who=picks, plan=st.sampled_from(["free", "pro", "agency"]))
    def change_plan(self, who: int, plan: str) -> None:
        account = self.pick(self.accounts, who)
        if self.attempt(accounts.set_plan(self.auth, account.email, plan)) is not None:
            account.plan = plan

    @precondition(lambda self: self.accounts)
    @rule(who=picks, name=st.sampled_from(["ci", "deploy", "  "]))
    def create_api_key(self, who: int, name: str) -> None:
        account = self.pick(self.accounts, who)
        created = self.attempt(api_keys.create_api_key(self.auth, account.id, name))
        if created is not None:
            self.keys.append(Owned(created.api_key.id, account))

    @precondition(lambda self: self.keys)
    @rule(which=picks, intruder=st.none() | picks)
    def revoke_api_key(self, which: int, intruder: int | None) -> None:
        key = self.pick(self.keys, which)
        self.attempt(api_keys.revoke_api_key(self.auth, self.acting(key, intruder), key.id))

    # -- sites ---------------------------------------------------------------------------

    @precondition(lambda self: self.accounts)
    @rule(
        who=picks, url=st.sampled_from(URLS), keywords=st.lists(st.sampled_from("ab"), max_size=2)
    )
    def register_site(self, who: int, url: str, keywords: list[str]) -> None:
        account = self.pick(self.accounts, who)
        done = self.attempt(
            sites.register_site(
                self.site_ports,
                account_id=account.id,
                plan=get_plan(account.plan),
                url=url,
                details=sites.SiteDetails(name="Site", keywords=keywords),
                verify_landing_page=False,
            )
        )
        if done is not None:
            self.sites.append(Owned(done[0].id, account))

    @precondition(lambda self: self.sites)
    @rule(
        which=picks,
        intruder=st.none() | picks,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["Renamed", "Other"]),
                "description": st.none() | st.just("Described"),
                "keywords": st.lists(st.sampled_from("xyz"), max_size=2),
                "category": st.none() | st.just("news"),
            },
        ),
    )
    def update_site(self, which: int, intruder: int | None, changes: dict[str, Any]) -> None:
        site = self.pick(self.sites, which)
        self.attempt(
            sites.update_site(
                self.site_ports,
                account_id=self.acting(site, intruder),
                site_id=site.id,
                changes=changes,
            )
        )

    @precondition(lambda self: len(self.active()) > 1)
    @rule(which=picks, intruder=st.none() | picks)
    def archive_site(self, which: int, intruder: int | None) -> None:
        """Not the last active site: jobs need one."""
        site = self.pick(self.sites, which)
        done = self.attempt(
            sites.archive_site(
                self.site_ports, account_id=self.acting(site, intruder), site_id=site.id
            )
        )
        if done is not None:
            self.archived.add(site.id)

    def active(self) -> list[Owned]:
        return [s for s in self.sites if s.id not in self.archived]

    # -- jobs, as the API and the workers move them ----------------------------------------

    @precondition(lambda self: self.sites)
    @rule(
        which=picks,
        directories=st.none()
        | st.lists(st.sampled_from(DIRECTORIES), min_size=1, max_size=4, unique=True),
    )
    def create_job(self, which: int, directories: list[int] | None) -> None:
        site = self.pick(self.active() or self.sites, which)
        done = self.attempt(
            jobs.create_job(
                self.job_ports,
                account_id=site.account.id,
                plan=get_plan(site.account.plan),
                site_id=site.id,
                directory_ids=directories,
            )
        )
        if done is not None:
            self.jobs.append(Owned(done[0].id, site.account))

    @precondition(lambda self: self.jobs)
    @rule(which=picks, intruder=st.none() | picks)
    def cancel_job(self, which: int, intruder: int | None) -> None:
        job = self.pick(self.jobs, which)
        self.attempt(
            jobs.cancel_job(self.job_ports, account_id=self.acting(job, intruder), job_id=job.id)
        )

    @precondition(lambda self: self.jobs)
    @rule(
        which=picks,
        steps=st.lists(
            st.tuples(picks, st.sampled_from(OUTCOMES), st.booleans()), min_size=1, max_size=4
        ),
    )
    def work(self, which: int, steps: list[tuple[int, Any, bool]]) -> None:
        """What a worker does next with a job, a few steps: start it, mark a task
        submitting, record the submission's outcome, or look for the listing."""
        job = self.pick(self.jobs, which)
        for task, outcome, found in steps:
            loaded = self.run(self.repo.get(job.id, Job))
            if loaded.status == JobStatus.QUEUED:
                self.attempt(delivery.start_job(self.repo, job.id))
                continue
            t = self.pick(loaded.tasks, task)
            if t.status == TaskStatus.SUBMITTING:
                self.attempt(delivery.record_outcome(self.repo, job.id, t.directory_id, outcome))
            elif t.status == TaskStatus.SUBMITTED:
                self.look_for_listing(job, t.directory_id, found)
            else:  # pending; or settled, and then it is refused
                self.attempt(delivery.begin_submission(self.repo, job.id, t.directory_id))

    @precondition(lambda self: self.jobs)
    @rule(
        which=picks,
        directory=st.sampled_from(DIRECTORIES),
        command=st.sampled_from(["start", "begin", "outcome", "look"]),
        outcome=st.sampled_from(OUTCOMES),
        found=st.booleans(),
    )
    def stray(self, which: int, directory: int, command: str, outcome: Any, found: bool) -> None:
        """A worker's command whatever the task's state (a late or repeated arq job, or a
        directory the job does not have): refused, or a no-op, unless it happens to fit."""
        job = self.pick(self.jobs, which)
        if command == "start":
            self.attempt(delivery.start_job(self.repo, job.id))
        elif command == "begin":
            self.attempt(delivery.begin_submission(self.repo, job.id, directory))
        elif command == "outcome":
            self.attempt(delivery.record_outcome(self.repo, job.id, directory, outcome))
        else:
            self.look_for_listing(job, directory, found)

    def look_for_listing(self, job: Owned, directory: int, found: bool) -> None:
        if not found:
            self.attempt(
                verification.record_listing_not_found(self.repo, job.id, directory, "Not there.")
            )
            return
        evidence = Evidence(
            f"https://dir{directory}.example/listing",
            True,
            "https://a.example.com/",
            "Site",
            "dofollow",
            [],
            200,
            True,
        )
        backlink = self.attempt(
            verification.record_listing_found(self.repo, job.id, directory, evidence)
        )
        if backlink is not None:
            self.backlinks.append(Owned(backlink.id, job.account))

    @precondition(lambda self: self.backlinks)
    @rule(which=picks, link=st.sampled_from(["dofollow", "nofollow", None]))
    def backlink_check(self, which: int, link: str | None) -> None:
        """A re-check through the monitoring service: the link found (of a type) or gone."""
        backlink = self.pick(self.backlinks, which)
        evidence = recheck_evidence(link, "https://a.example.com/", "Site")
        self.attempt(monitoring.record_recheck(self.repo, backlink.id, evidence))

    # -- checking ------------------------------------------------------------------------

    @precondition(lambda self: self.commands >= MIDWAY and not self.checked)
    @rule(data=st.data())
    def check(self, data: st.DataObject) -> None:
        """(a), (b), and the read model's rows for (c)'s check points: once per example,
        midway (a replay costs a scratch schema; the teardown checks (a) again at the end)."""
        self.checked = True
        self.run(self._settled())
        verdict = self.run(
            replay.verify(self.settings.database_url, self.repo.store, self.projections)
        )
        assert verdict.report() == []
        self.run(self._remember_rows())
        self.run(self._tamper(data))

    def teardown(self) -> None:
        try:
            self.run(self._settled())
            verdict = self.run(
                replay.verify(self.settings.database_url, self.repo.store, self.projections)
            )
            assert verdict.report() == []
            self.run(self._as_of_every_event())
            self.run(self._as_of_check_points())
            self.run(
                reports_equal_the_export(
                    self.infra, [a.id for a in self.accounts], [s.id for s in self.sites]
                )
            )
        finally:
            self.run(self.runner.stop())

    async def _settled(self) -> None:
        """Every read model has applied the whole log (no clock: the recorded positions;
        a stuck projection fails at once, naming its event)."""
        latest = await self.infra.store.max_notification_id()
        while not await wait_for(self.infra.pool, self.projections, latest, timeout=10):
            stalls = await self.infra.pool.fetch("SELECT * FROM projection_stalls")
            assert not stalls, [dict(s) for s in stalls]

    async def _remember_rows(self) -> None:
        async with self.infra.pool.acquire() as conn:
            for kind, owned in [("site", s) for s in self.sites] + [("job", j) for j in self.jobs]:
                cls = Site if kind == "site" else Job
                events = [
                    self.repo.mapper.to_domain_event(s)
                    for s in await self.repo.store.read(owned.id)
                ]
                assert events and all(isinstance(e, cls.Event) for e in events)
                if kind == "site":
                    row = await get_site(conn, owned.account.id, owned.id)
                    assert row is not None
                    row = replace(row, seq=0)
                else:
                    row = await get_job(conn, owned.account.id, owned.id)
                    assert row is not None
                    row = replace(row, seq=0, event_position=0)
                self.seen.append((kind, owned.id, owned.account.id, events[-1].timestamp, row))

    async def _as_of(self, kind: str, aggregate_id: uuid.UUID, account: uuid.UUID, at: Any) -> Any:
        """The row `GET /{kind}s/{id}?as_of=at` renders."""
        if kind == "site":
            site, history = await sites.site_as_of(self.repo, account, aggregate_id, at)
            return site_row_at(site, history)
        job, history = await jobs.job_as_of(self.repo, account, aggregate_id, at)
        return job_row_at(job, history)

    async def _as_of_every_event(self) -> None:
        """(c): at each event's instant, the aggregate folded from its first event up to
        the last one recorded at or before that instant (a later one at the very same
        microsecond belongs to that instant too), with no snapshot."""
        owned = [("site", s, Site) for s in self.sites] + [("job", j, Job) for j in self.jobs]
        for kind, item, cls in owned:
            events = [
                self.repo.mapper.to_domain_event(s) for s in await self.repo.store.read(item.id)
            ]
            for event in events:
                upto = [e for e in events if e.timestamp <= event.timestamp]
                folded = fold(upto, cls)
                expected = site_row_at(folded, upto) if kind == "site" else job_row_at(folded, upto)
                got = await self._as_of(kind, item.id, item.account.id, event.timestamp)
                assert got == expected, (kind, item.id, event)
            with pytest.raises(NotFound):
                await self._as_of(
                    kind, item.id, item.account.id, events[0].timestamp - ONE_MICROSECOND
                )
            with pytest.raises(NotFound):
                await self._as_of(kind, item.id, uuid.uuid4(), events[-1].timestamp)

    async def _as_of_check_points(self) -> None:
        """(c): at a check point's instant, `as_of` is the read model's row as it stood."""
        for kind, aggregate_id, account, at, row in self.seen:
            got = await self._as_of(kind, aggregate_id, account, at)
            if kind == "job":
                got = replace(got, event_position=0)
            assert got == row, (kind, aggregate_id, at)

    async def _tamper(self, data: st.DataObject) -> None:
        """(b): change one row of one read model, verify names it, then put it back."""
        pool = self.infra.pool
        tables = [(p.name, t) for p in self.projections for t in p.tables]
        filled = [
            pt for pt in tables if await pool.fetchval(f"SELECT EXISTS (SELECT FROM {pt[1]})")
        ]
        projection, table = data.draw(st.sampled_from(filled), label="table")
        count = await pool.fetchval(f"SELECT count(*) FROM {table}")
        offset = data.draw(st.integers(0, count - 1), label="row")
        key = await _primary_key(pool, table)
        row = await pool.fetchrow(
            f"SELECT ctid, to_jsonb(t) AS original, {', '.join(key)} FROM {table} t "
            f"ORDER BY {', '.join(key)} OFFSET $1 LIMIT 1",
            offset,
        )
        where = ", ".join(f"{k}={row[k]}" for k in key)
        original = f"jsonb_populate_record(NULL::{table}, $1::jsonb)"  # the row as it was
        prefix = f"{projection}: {table} {where}"
        columns = [c for c in await _tamperable(pool, table) if c[0] not in key]
        how = data.draw(st.sampled_from(["delete", *[c[0] for c in columns]]), label="tamper")
        if how == "delete":
            await pool.execute(f"DELETE FROM {table} WHERE ctid = $1", row["ctid"])
            expected = [f"{prefix}: missing from the live table (the replay has it)"]
        else:
            change = dict(columns)[how]
            ctid = await pool.fetchval(
                f"UPDATE {table} SET {how} = {change} WHERE ctid = $1 RETURNING ctid", row["ctid"]
            )
            expected_start = f"{prefix}: {how}: live "
        [tampered] = [p for p in self.projections if p.name == projection]
        verdict = await replay.verify(self.settings.database_url, self.repo.store, [tampered])
        if how == "delete":
            assert verdict.report() == expected
            await pool.execute(
                f"INSERT INTO {table} SELECT * FROM {original}",
                row["original"],
            )
        else:
            assert len(verdict.report()) == 1, verdict.report()
            assert verdict.report()[0].startswith(expected_start), (
                verdict.report(),
                expected_start,
            )
            await pool.execute(
                f"UPDATE {table} SET {how} = ({original}).{how} WHERE ctid = $2",
                row["original"],
                ctid,
            )
        restored = await pool.fetchval(
            f"SELECT to_jsonb(t) FROM {table} t WHERE ({', '.join(key)}) = "
            f"(SELECT {', '.join(key)} FROM {original})",
            row["original"],
        )
        assert restored == row["original"]


def _rows(report: list[Any]) -> list[dict[str, Any]]:
    return [msgspec.structs.asdict(r) for r in report]


async def reports_equal_the_export(
    infra: Infrastructure, account_ids: list[uuid.UUID], site_ids: list[uuid.UUID]
) -> None:
    """(d): every report, as its query answers it from the read model, equals what
    `tests/report_oracle.py` computes from `backlynk events export` alone, per account,
    per site (and a site with nothing), over months and day and week buckets, and the
    operator's report across every account."""
    async with infra.pool.acquire() as conn:
        lines = [line async for line in export_lines(conn)]
    now = datetime.now(UTC)
    this_month = period_of(now)
    async with infra.read_pool.acquire() as conn:
        for account_id in account_ids:
            for first in (this_month, "2025-11"):
                assert _rows(await usage_by_month(conn, account_id, first, this_month)) == (
                    oracle.usage_report(lines, account_id, first, this_month, "month")
                )
                assert _rows(await usage_by_site(conn, account_id, first, this_month)) == (
                    oracle.usage_report(lines, account_id, first, this_month, "site")
                )
            assert _rows(await directory_stats(conn, account_id=account_id)) == (
                oracle.directories_report(lines, account_id)
            )
            for site_id in [uuid.uuid4(), *site_ids]:  # theirs, another's, and no one's
                assert _rows(
                    await directory_stats(conn, account_id=account_id, site_id=site_id)
                ) == oracle.directories_report(lines, account_id, site_id)
            for interval, since, until in [
                ("day", now - timedelta(days=2), now + timedelta(days=1)),
                ("week", now - timedelta(weeks=3), now),
            ]:
                for site_id in (None, *site_ids):
                    assert _rows(
                        await backlinks_over_time(conn, account_id, site_id, interval, since, until)
                    ) == oracle.backlinks_report(lines, account_id, site_id, interval, since, until)
        assert _rows(await directory_stats(conn)) == oracle.directories_report(lines)


async def _primary_key(pool: asyncpg.Pool, table: str) -> list[str]:
    rows = await pool.fetch(
        """SELECT a.attname FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = $1::regclass AND i.indisprimary
           ORDER BY array_position(i.indkey::int2[], a.attnum)""",
        table,
    )
    key = [r[0] for r in rows]
    assert key, f"{table} has no primary key: give the tamper check another row identity"
    return key


#: per column type, a value surely different from the column's (NULL included)
_CHANGES = {
    "text": "coalesce({c}, '') || '~'",
    "integer": "coalesce({c}, 0) + 1",
    "bigint": "coalesce({c}, 0) + 1",
    "boolean": "NOT coalesce({c}, false)",
    "timestamp with time zone": "coalesce({c}, now()) + interval '1 second'",
    "jsonb": "jsonb_build_array({c})",
    "uuid": "gen_random_uuid()",
    "text[]": "array_append(coalesce({c}, '{{}}'::text[]), '~')",
}


async def _tamperable(pool: asyncpg.Pool, table: str) -> list[tuple[str, str]]:
    """(column, an expression that changes it) for each column of a type above."""
    rows = await pool.fetch(
        """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
           WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
             AND attgenerated = '' AND attidentity = '' ORDER BY attnum""",
        table,
    )
    return [(r[0], _CHANGES[r[1]].format(c=r[0])) for r in rows if r[1] in _CHANGES]


def test_random_histories_replay_and_travel_in_time(session_settings, settings):
    """The machine, run on one database: each example truncates it."""
    loop = asyncio.new_event_loop()
    infra = loop.run_until_complete(open_infrastructure(settings, pool_size=10))
    ReplayMachine.loop, ReplayMachine.infra, ReplayMachine.settings = loop, infra, settings
    try:
        run_state_machine_as_test(
            ReplayMachine,
            settings=settings_for_the_machine,
        )
    finally:
        loop.run_until_complete(infra.close())
        loop.close()


settings_for_the_machine = hypothesis_settings(
    max_examples=20,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
