"""Shared fixtures. Every test run gets its own fresh Postgres database (one per xdist
worker), created at session start and dropped at the end; Redis is shared, and every test
keeps to its own namespace (`settings`: queue, politeness, rate limits, idempotency keys)
under the run's, which is emptied at the end."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator

import aiohttp
import asyncpg
import msgspec
import pytest
import redis
import uvicorn

from adapters import parsing_pool
from adapters import settings as settings_module
from adapters.db import migrate
from adapters.infrastructure import Infrastructure, open_infrastructure
from adapters.read_model_feed import EVERY, told_sql
from adapters.settings import Settings
from backlynk_cli import migrate_ddl

BASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/backlynk")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]


def _with_db(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


def _worker_db_name(worker_id: str) -> str:
    return f"backlynk_test_{RUN_ID}_{worker_id}"


async def _create_db(name: str) -> None:
    admin = await asyncpg.connect(_with_db(BASE_URL, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(_with_db(BASE_URL, name))
    try:
        await migrate(conn, migrate_ddl())
    finally:
        await conn.close()


async def _drop_db(name: str) -> None:
    admin = await asyncpg.connect(_with_db(BASE_URL, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def database_url(worker_id: str) -> str:
    name = _worker_db_name(worker_id)
    asyncio.run(_create_db(name))
    yield _with_db(BASE_URL, name)
    asyncio.run(_drop_db(name))


@pytest.fixture(scope="session")
def session_settings(database_url: str, worker_id: str) -> Iterator[Settings]:
    """The run's settings; every test's Redis namespace lies under theirs, and whatever
    keys the tests left there go at the end."""
    chosen = settings_module.load(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "JWT_SECRET": "test-secret-" + RUN_ID * 4,
            "BACKLYNK_FETCH_ALLOW_CIDRS": "127.0.0.0/8",
            "BACKLYNK_DEV": "1",
            # cheap argon2 and no per-IP sign-up/refresh limits: every test signs up from
            # loopback (tests/test_auth_limits.py sets its own limits and the real hashing)
            "BACKLYNK_FAST_PASSWORD_HASHING": "1",
            "BACKLYNK_REGISTER_RATE": "1000000",
            "BACKLYNK_REFRESH_RATE": "1000000",
            "BACKLYNK_REDIS_NAMESPACE": f"test:{RUN_ID}:{worker_id}",
            # a busy machine may take seconds to project; a command that answered before
            # its read models caught up would make the next read flaky
            "BACKLYNK_READ_YOUR_WRITES_WAIT": "60",
        }
    )
    yield chosen
    with redis.Redis.from_url(chosen.redis_url) as client:
        keys = list(client.scan_iter(match=f"{chosen.redis_namespace}:*", count=20_000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])


@pytest.fixture
def settings(session_settings: Settings) -> Settings:
    """This test's settings: its own Redis namespace, so no queue, politeness lock, rate
    limit window or idempotency key of another test is seen."""
    return msgspec.structs.replace(
        session_settings,
        redis_namespace=f"{session_settings.redis_namespace}:{uuid.uuid4().hex[:10]}",
    )


async def truncate_all(conn: asyncpg.Connection) -> None:
    """Empty every table, restart the sequences TRUNCATE ... RESTART IDENTITY would, and
    reset tracking rows: each test starts from nothing. DELETE, not TRUNCATE: the tables
    hold a test's few rows, and TRUNCATE of some thirty tables (new files for each and its
    indexes, a scan of shared buffers per relation, a WAL flush) took 0.1-0.5 s per test
    where these take a few milliseconds."""
    tables = [
        r[0]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    data = [t for t in tables if not t.endswith("_tracking")]
    tracking = [t for t in tables if t.endswith("_tracking")]
    statements = [f"DELETE FROM {t}" for t in data]
    statements += [
        f"UPDATE {t} SET notification_id = 0 WHERE application_name <> '__migration__'"
        for t in tracking
    ]
    # every web process still running forgets the answers it kept
    statements.append(told_sql(EVERY))
    async with conn.transaction():
        if statements:
            await conn.execute(";\n".join(statements))
        # the sequences owned by a column of an emptied table, as RESTART IDENTITY does
        await conn.execute(
            """
            SELECT setval(s.oid::regclass, q.start_value, false)
              FROM pg_class s
              JOIN pg_sequences q ON q.schemaname = 'public' AND q.sequencename = s.relname
              JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                              AND d.deptype IN ('a', 'i')
              JOIN pg_class t ON t.oid = d.refobjid
             WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace
               AND t.relname = ANY($1::text[])
            """,
            data,
        )


#: a bound on each teardown step that waits for something (a server stopping, pools
#: closing): a step that hangs fails with what is still running, well within the test's
#: timeout, instead of a timeout that shows only the event loop waiting
TEARDOWN_S = 30


async def within(seconds: float, step: Awaitable[object], what: str) -> None:
    """Await `step`; if it has not ended after `seconds`, fail with the stack of every
    task still running (it is left running: the loop's own teardown cancels it)."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait([task], timeout=seconds)
    if done:
        task.result()
        return
    stacks = io.StringIO()
    for running in asyncio.all_tasks():
        if running is not asyncio.current_task():
            running.print_stack(file=stacks)
    report = f"{what} did not end within {seconds} s; tasks:\n{stacks.getvalue()}"
    sys.stderr.write(report)  # shown even if the loop's teardown then hangs as well
    raise AssertionError(report)


@pytest.fixture
async def infra(settings: Settings) -> AsyncIterator[Infrastructure]:
    infrastructure = await open_infrastructure(settings, pool_size=20)
    async with infrastructure.pool.acquire() as conn:
        await truncate_all(conn)
    try:
        yield infrastructure
    finally:
        await within(TEARDOWN_S, infrastructure.close(), "closing the infrastructure")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening: a connection to it is refused, and
    no other test can be handed it meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


class _PromptServer(uvicorn.Server):
    """uvicorn's server, which stops as soon as it is told to. uvicorn's own checks for
    the exit flag every 0.1 s and sleeps 0.1 s more before waiting for the connections to
    close: 0.2 s per test of a suite that starts hundreds of servers. The shutdown is
    uvicorn's, in the same order (stop accepting, ask every connection to finish, wait for
    them and for the tasks, then the app's lifespan shutdown); only the waiting is on an
    event or a short poll instead of fixed sleeps."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.exit_requested = asyncio.Event()

    def request_exit(self) -> None:
        self.should_exit = True
        self.exit_requested.set()

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            # uvicorn's tick (the Date header once a second), cut short by request_exit
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self.exit_requested.wait()
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets=None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        while self.server_state.connections or self.server_state.tasks:
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


class LiveServer:
    """The real app under uvicorn on a loopback port, and an aiohttp client for it. The
    socket is bound here and handed to uvicorn: no other test can take the port between
    choosing it and serving on it."""

    def __init__(self, app):
        self.app = app
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = _PromptServer(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        )
        self.task: asyncio.Task | None = None
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LiveServer:
        # the parsing processes started before serving, as `backlynk serve` does: the
        # first big page must not pay for their start (seconds on a busy machine) within
        # its fetch's deadline. Started once; they serve the whole test run.
        await asyncio.to_thread(parsing_pool.warm)
        self.task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        self.http = aiohttp.ClientSession(base_url=self.url)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.http
        await self.http.close()
        self.server.request_exit()
        assert self.task
        try:
            await within(TEARDOWN_S, self.task, "stopping the test server")
        finally:
            self.socket.close()


@pytest.fixture
async def server(settings: Settings, infra: Infrastructure) -> AsyncIterator[LiveServer]:
    from api.app import create_app

    app = create_app(settings, infra=infra, in_process_projector=True)
    async with LiveServer(app) as live:
        yield live


@pytest.fixture
async def catalogue(infra):
    """Six directories: 5 is paused, 6 has DR 80 (above the pro cap)."""
    from adapters.directories import PostgresDirectoryCatalogue, upsert
    from domain.directory import parse_catalogue
    from tests.support import catalogue_json

    async with infra.pool.acquire() as conn:
        await upsert(conn, parse_catalogue(catalogue_json(6, paused=(5,), dr={6: 80})))
    return PostgresDirectoryCatalogue(infra.pool)


@pytest.fixture
def isolated_settings(settings: Settings) -> Settings:
    """`settings` (this test's own Redis namespace), and no landing-page fetch when a
    site is registered."""
    return msgspec.structs.replace(settings, verify_sites=False)


@pytest.fixture
async def api(isolated_settings: Settings, infra: Infrastructure) -> AsyncIterator[LiveServer]:
    """The real app with an in-process projector, on `isolated_settings`."""
    from api.app import create_app

    app = create_app(isolated_settings, infra=infra, in_process_projector=True)
    async with LiveServer(app) as live:
        yield live
