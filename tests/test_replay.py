"""Replay you can trust: `backlynk replay --verify` compares a replay with the live read
models (and names every difference), `backlynk projections rebuild` swaps a rebuilt read
model in without readers ever seeing it emptied, and `backlynk events export` writes the
event store as JSON lines."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import uuid

import asyncpg
import pytest

from adapters.job_feed import CHANNEL as JOBS_CHANNEL
from projections import replay
from projections.registry import read_models
from projections.runner import ProjectorRunner, position, wait_for
from tests.support import Limits, new_site
from tests.test_read_models import exercise_every_event
from tests.test_stuck_projections import backlynk, cli_env

MANY = Limits(max_sites=10_000)


async def settle(infra, settings, projections=None) -> None:
    """Run the projector until every read model has applied the whole log."""
    projections = projections or read_models()
    runner = ProjectorRunner(settings.database_url, infra.store, projections, poll_interval=0.05)
    await runner.start()
    try:
        assert await wait_for(
            infra.pool, projections, await infra.store.max_notification_id(), timeout=60
        )
    finally:
        await runner.stop()


async def add_site(infra, account: uuid.UUID, i: int) -> uuid.UUID:
    site = await new_site(infra.repository, account, f"https://s{i}.example.com", plan=MANY)
    return site.id


async def scratch_schemas(infra) -> list[str]:
    return [
        r[0]
        for r in await infra.pool.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            replay.SCHEMA_PREFIX + "%",
        )
    ]


@pytest.fixture
async def history(infra, settings, catalogue):
    """Every kind of event, applied by the projector."""
    await exercise_every_event(infra.repository, catalogue)
    await settle(infra, settings)
    return infra


# -- replay --verify --------------------------------------------------------------------


async def test_a_consistent_database_verifies_and_leaves_no_scratch_schema(history, settings):
    code, out, err = await backlynk(settings, "replay", "--verify")
    assert code == 0, err
    assert out == ""
    assert "replay equals the live read models" in err and "sites at " in err
    assert await scratch_schemas(history) == []


async def test_a_tampered_row_exits_1_and_is_named(history, settings):
    site = await history.pool.fetchval("SELECT id FROM sites WHERE status = 'active'")
    await history.pool.execute("UPDATE sites SET name = 'Tampered' WHERE id = $1", site)
    code, out, err = await backlynk(settings, "replay", "--verify")
    assert code == 1, err
    assert out.splitlines() == [
        f'sites: sites id={site}: name: live "Tampered" vs replayed "Renamed"'
    ]
    assert "1 differences" in err
    assert await scratch_schemas(history) == []


async def test_missing_and_extra_rows_are_reported_and_the_list_is_bounded(history, settings):
    task = await history.pool.fetchrow("SELECT job_id, directory_id FROM job_tasks LIMIT 1")
    await history.pool.execute(
        "DELETE FROM job_tasks WHERE job_id = $1 AND directory_id = $2", *task
    )
    extra = uuid.uuid4()
    await history.pool.execute(
        "INSERT INTO sites SELECT $1, account_id, url, domain, name, description, category, "
        "keywords, contact_email, status, created_at, updated_at, seq FROM sites LIMIT 1",
        extra,
    )
    key = await history.pool.fetchval("SELECT quota_id FROM usage")
    await history.pool.execute("UPDATE usage SET used = used + 5, reserved = 7")

    verdict = await replay.verify(settings.database_url, history.store, read_models())
    assert not verdict.equal
    assert sorted(verdict.lines) == sorted(
        [
            f"jobs: job_tasks job_id={task[0]}, directory_id={task[1]}: "
            "missing from the live table (the replay has it)",
            f"sites: sites id={extra}: extra in the live table (the replay has no such row)",
            f"usage: usage quota_id={key}: used: live 7 vs replayed 2",
            f"usage: usage quota_id={key}: reserved: live 7 vs replayed 0",
        ]
    )

    bounded = await replay.verify(settings.database_url, history.store, read_models(), limit=2)
    assert bounded.total == 4 and len(bounded.lines) == 2
    assert bounded.report()[-1] == "... and 2 more differences"
    code, out, _ = await backlynk(settings, "replay", "--verify", "--limit", "3")
    assert code == 1 and out.splitlines()[-1] == "... and 1 more differences"
    assert await scratch_schemas(history) == []


async def test_verify_compares_at_one_position_while_the_projector_and_writers_run(
    history, settings
):
    """The live tables move during the replay; the cut is still consistent."""
    projections = read_models()
    runner = ProjectorRunner(settings.database_url, history.store, projections, poll_interval=0.01)
    await runner.start()
    account, done = uuid.uuid4(), asyncio.Event()

    async def write() -> int:
        n = 0
        while not done.is_set():
            await add_site(history, account, n)
            n += 1
            await asyncio.sleep(0)
        return n

    writer = asyncio.create_task(write())
    try:
        verdicts = [
            await replay.verify(settings.database_url, history.store, projections) for _ in range(3)
        ]
    finally:
        done.set()
        written = await writer
        await runner.stop()
    assert written > 0
    assert [v.report() for v in verdicts] == [[], [], []]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def test_ctrl_c_drops_the_scratch_schema(history, settings):
    blocker = await asyncpg.connect(settings.database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "backlynk_cli", "replay", "--verify"],
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Ctrl-C as at a terminal: a run started in the background (a CI runner, `cmd &`)
        # inherits SIGINT ignored, and Python then never turns it into KeyboardInterrupt
        preexec_fn=_default_sigint,
    )
    try:
        # the comparison waits for this lock: the replay is caught mid-way
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE public.sites IN ACCESS EXCLUSIVE MODE")
            for _ in range(600):
                waiting = await history.pool.fetchval(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'sites' AND NOT l.granted"
                )
                if waiting:
                    break
                await asyncio.sleep(0.1)
            assert waiting, "the verify never reached the live sites table"
            assert len(await scratch_schemas(history)) == 1
            proc.send_signal(signal.SIGINT)
            try:
                returncode = await asyncio.to_thread(proc.wait, 60)
            except subprocess.TimeoutExpired:
                # say what it waits for: every session of this database and its wait
                sessions = await history.pool.fetch(
                    "SELECT pid, state, wait_event_type, wait_event, left(query, 120) AS q "
                    "FROM pg_stat_activity WHERE datname = current_database()"
                )
                proc.kill()
                _, err = proc.communicate()
                raise AssertionError(
                    f"no exit 60 s after SIGINT; sessions: {[dict(r) for r in sessions]}; "
                    f"stderr: {err.decode()[-3000:]}"
                ) from None
        assert returncode == 130, proc.stderr.read().decode() if proc.stderr else ""
        assert await scratch_schemas(history) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await blocker.close()


async def test_replay_refuses_without_verify_and_refuses_the_dispatcher(settings):
    code, _, err = await backlynk(settings, "replay")
    assert code == 2 and "--verify" in err
    code, _, err = await backlynk(settings, "projections", "rebuild", "dispatcher")
    assert code == 2 and "keeps no tables: there is nothing to rebuild" in err
    # why (it enqueues), and what to do instead
    assert "would enqueue the work of the whole history again" in err
    assert "backlynk projections skip dispatcher POSITION" in err
    assert "resume_stalled_jobs" in err
    code, _, err = await backlynk(settings, "replay", "--verify", "dispatcher")
    assert code == 2 and "there is nothing to compare" in err


# -- projections rebuild ----------------------------------------------------------------


async def test_rebuild_swaps_in_a_whole_table_while_readers_and_the_projector_run(infra, settings):
    projections = read_models()
    [sites_model] = [p for p in projections if p.name == "sites"]
    account = uuid.uuid4()
    for i in range(40):
        await add_site(infra, account, i)
    await settle(infra, settings, projections)
    before = await infra.pool.fetchval("SELECT count(*) FROM sites")
    oid = await infra.pool.fetchval("SELECT 'public.sites'::regclass::oid")

    runner = ProjectorRunner(settings.database_url, infra.store, projections, poll_interval=0.01)
    await runner.start()
    done = asyncio.Event()
    seen: list[list[int]] = [[], []]

    async def read(counts: list[int]) -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            while not done.is_set():
                counts.append(await conn.fetchval("SELECT count(*) FROM sites"))
                await asyncio.sleep(0)
        finally:
            await conn.close()

    async def write() -> None:
        n = 100
        while not done.is_set():
            await add_site(infra, account, n)
            n += 1
            await asyncio.sleep(0.001)

    readers = [asyncio.create_task(read(counts)) for counts in seen]
    writer = asyncio.create_task(write())
    try:
        await asyncio.sleep(0)
        rebuilt = await replay.rebuild(
            settings.database_url, infra.store, sites_model, batch_size=7, close_enough=3
        )
        reads_during = sum(map(len, seen))
        done.set()
        await asyncio.gather(writer, *readers)
        assert await wait_for(
            infra.pool, projections, await infra.store.max_notification_id(), timeout=60
        )
    finally:
        done.set()
        await runner.stop()

    assert rebuilt.projection == "sites" and rebuilt.events >= before
    assert await infra.pool.fetchval("SELECT 'public.sites'::regclass::oid") != oid  # swapped
    assert reads_during > 0
    # only inserts happen, so each reader's counts only grow: never an emptied or partial
    # table, before, during or after the swap
    for counts in seen:
        assert counts[0] >= before and counts == sorted(counts)
    async with infra.pool.acquire() as conn:
        assert await position(conn, sites_model) >= rebuilt.position
    assert await infra.pool.fetchval("SELECT count(*) FROM projection_stalls") == 0
    verdict = await replay.verify(settings.database_url, infra.store, projections)
    assert verdict.report() == []
    assert await scratch_schemas(infra) == []


async def test_rebuild_waits_for_a_long_reader_without_blocking_it(history, settings, caplog):
    """A reader inside a long transaction keeps its table until it is done; the swap
    tries again (never holding readers up for long, never deadlocking) and then happens."""
    caplog.set_level(logging.INFO, logger="backlynk.replay")
    [sites_model] = [p for p in read_models() if p.name == "sites"]
    count = await history.pool.fetchval("SELECT count(*) FROM sites")
    reader = await asyncpg.connect(settings.database_url)
    try:
        async with reader.transaction(isolation="repeatable_read"):
            assert await reader.fetchval("SELECT count(*) FROM sites") == count
            rebuilding = asyncio.create_task(
                replay.rebuild(settings.database_url, history.store, sites_model, lock_timeout=0.05)
            )
            for _ in range(600):
                if "busy" in caplog.text or rebuilding.done():
                    break
                await asyncio.sleep(0.1)
            assert "rebuild sites: the live tables are busy" in caplog.text
            assert not rebuilding.done()
            assert await reader.fetchval("SELECT count(*) FROM sites") == count
        rebuilt = await asyncio.wait_for(rebuilding, 60)
    finally:
        await reader.close()
    assert rebuilt.position == await history.store.max_notification_id()
    assert await history.pool.fetchval("SELECT count(*) FROM sites") == count
    assert await scratch_schemas(history) == []


async def test_rebuild_from_the_cli_catches_a_stale_read_model_up(history, settings):
    """A read model emptied behind the projector's back comes back whole."""
    sites_count = await history.pool.fetchval("SELECT count(*) FROM sites")
    await history.pool.execute("DELETE FROM sites")
    reader = f"backlynk_test_reader_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide
    await history.pool.execute(f"CREATE ROLE {reader}")
    try:
        await history.pool.execute(f"GRANT SELECT ON sites TO {reader}")
        code, _, err = await backlynk(settings, "projections", "rebuild", "sites")
        assert code == 0, err
        assert "rebuilt sites" in err and "swapped in at position" in err
        assert await history.pool.fetchval("SELECT count(*) FROM sites") == sites_count
        # the new table keeps the old one's privileges
        assert await history.pool.fetchval(
            "SELECT has_table_privilege($1, 'public.sites', 'SELECT')", reader
        )
    finally:
        await history.pool.execute(f"DROP OWNED BY {reader}")
        await history.pool.execute(f"DROP ROLE {reader}")
    code, _, err = await backlynk(settings, "replay", "--verify")
    assert code == 0, err


# -- events export ----------------------------------------------------------------------


async def export(settings, *args: str) -> list[dict]:
    code, out, err = await backlynk(settings, "events", "export", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


async def test_export_round_trips_the_store(history, settings):
    stored = await history.pool.fetch(
        "SELECT notification_id, originator_id, originator_version, topic "
        "FROM backlynk_events ORDER BY notification_id"
    )
    lines = await export(settings)
    assert [(e["position"], e["aggregate_id"], e["version"], e["topic"]) for e in lines] == [
        (r[0], str(r[1]), r[2], r[3]) for r in stored
    ]
    assert all(e["timestamp"] and e["timestamp"] == e["state"]["timestamp"] for e in lines)
    registered = next(e for e in lines if e["topic"].endswith("Site.Registered"))
    assert registered["state"]["url"].startswith("https://")

    # paging: the same lines, however small the pages
    from adapters.event_export import export_lines

    async with history.pool.acquire() as conn:
        paged = [json.loads(line) async for line in export_lines(conn, batch_size=3)]
    assert paged == lines

    site = await history.pool.fetchval("SELECT id FROM sites ORDER BY seq LIMIT 1")
    own = await export(settings, "--aggregate", str(site))
    assert own == [e for e in lines if e["aggregate_id"] == str(site)]
    assert [e["version"] for e in own] == list(range(1, len(own) + 1))

    middle = lines[len(lines) // 2]["position"]
    assert await export(settings, "--since", str(middle)) == [
        e for e in lines if e["position"] > middle
    ]
    assert await export(settings, "--since", str(lines[-1]["position"])) == []


async def test_export_redacts_credential_hashes(infra, settings):
    from adapters.wiring import auth_ports
    from domain.services.accounts import create_account

    await create_account(
        auth_ports(infra), "audit@example.com", "correct horse battery", plan_code="free"
    )
    [registered] = [e for e in await export(settings) if e["topic"].endswith("Registered")]
    assert registered["state"]["email"] == "audit@example.com"
    assert registered["state"]["password_hash"] == "[redacted]"
    stored = await infra.pool.fetchval(
        "SELECT state FROM backlynk_events WHERE topic = $1", registered["topic"]
    )
    assert b"argon2" in stored  # the store keeps it; only the export leaves it out


async def test_export_refuses_bad_filters(settings):
    code, _, err = await backlynk(settings, "events", "export", "--aggregate", "nope")
    assert code == 2 and "--aggregate must be a UUID" in err
    code, _, err = await backlynk(settings, "events", "export", "--since", "-1")
    assert code == 2 and "--since must be a position" in err
    code, _, err = await backlynk(
        settings, "events", "export", "--since", "1", "--aggregate", str(uuid.uuid4())
    )
    assert code == 2 and "not allowed with" in err


async def test_a_recorded_skip_is_passed_over_and_an_unskipped_bad_event_stops_the_replay(
    infra, settings
):
    from domain.site import Site
    from projections import stalls

    account = uuid.uuid4()
    poison = Site(
        account_id=account,
        url="https://poison.example.com",
        domain="poison.example.com",
        name="Poison\x00",  # Postgres text cannot hold NUL: the sites read model cannot apply it
        description=None,
        category=None,
        keywords=[],
        contact_email=None,
    )
    bad = await infra.repository.save(poison)
    await add_site(infra, account, 1)
    projections = read_models()
    [sites_model] = [p for p in projections if p.name == "sites"]
    runner = ProjectorRunner(settings.database_url, infra.store, projections, poll_interval=0.05)
    await runner.start()
    try:
        async with infra.pool.acquire() as conn:
            for _ in range(600):
                if await stalls.stalled_at(conn, "sites") == bad:
                    break
                await asyncio.sleep(0.1)
            await stalls.skip(conn, sites_model, bad, skipped_by="test", reason="NUL")
        assert await wait_for(
            infra.pool, projections, await infra.store.max_notification_id(), timeout=60
        )
    finally:
        await runner.stop()

    verdict = await replay.verify(settings.database_url, infra.store, projections)
    assert verdict.report() == []
    assert verdict.positions["sites"] == await infra.store.max_notification_id()
    assert await infra.pool.fetchval("SELECT count(*) FROM sites") == 1  # the one after it

    await infra.pool.execute("DELETE FROM projection_skips")
    with pytest.raises(replay.ReplayFailed) as failed:
        await replay.verify(settings.database_url, infra.store, projections)
    assert failed.value.note.id == bad and failed.value.projection == "sites"
    assert await scratch_schemas(infra) == []  # dropped on the error too


# -- the live tables' own statements ----------------------------------------------------


class Notifications:
    """What a LISTEN connection on the job streams' channel hears, up to a marker sent
    from another connection: notifications arrive in commit order, so once the marker is
    in, everything committed before it is too."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn, self.heard = conn, asyncio.Queue()

    async def __aenter__(self) -> Notifications:
        await self.conn.add_listener(JOBS_CHANNEL, self._heard)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.conn.remove_listener(JOBS_CHANNEL, self._heard)

    def _heard(self, _conn, _pid, _channel, payload: str) -> None:
        self.heard.put_nowait(payload)

    async def until_marker(self, pool) -> list[str]:
        marker = f"marker {uuid.uuid4()}"
        await pool.execute("SELECT pg_notify($1, $2)", JOBS_CHANNEL, marker)
        heard = []
        while (payload := await asyncio.wait_for(self.heard.get(), 60)) != marker:
            heard.append(payload)
        return heard


async def test_a_replay_wakes_no_job_stream_and_a_rebuilt_jobs_table_keeps_its_trigger(
    history, settings
):
    projections = read_models()
    [jobs_model] = [p for p in projections if p.name == "jobs"]
    listener = await asyncpg.connect(settings.database_url)
    try:
        async with Notifications(listener) as notifications:
            verdict = await replay.verify(settings.database_url, history.store, projections)
            assert verdict.report() == []
            await replay.rebuild(settings.database_url, history.store, jobs_model)
            assert await notifications.until_marker(history.pool) == []  # neither said a word

            # the swapped-in table notifies a change, as the one it replaced did
            job = await history.pool.fetchrow("SELECT id, event_position FROM jobs LIMIT 1")
            await history.pool.execute("UPDATE jobs SET status = status WHERE id = $1", job[0])
            assert await notifications.until_marker(history.pool) == [f"{job[0]} {job[1]}"]
    finally:
        await listener.close()


# -- stale scratch schemas --------------------------------------------------------------


async def scratch_locks(pool) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1",
        replay.SCHEMA_LOCK_CLASS,
    )


async def test_a_verify_drops_the_schema_a_killed_one_left_and_never_a_running_ones(
    history, settings
):
    async with replay.scratch_schema(settings.database_url) as (running, _conn):
        # beside a replay at work, a verify killed (-9) while it waits for a live table:
        # its schema stays behind
        blocker = await asyncpg.connect(settings.database_url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "backlynk_cli", "replay", "--verify"],
            env=cli_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with blocker.transaction():
                await blocker.execute("LOCK TABLE public.sites IN ACCESS EXCLUSIVE MODE")
                for _ in range(600):
                    if await history.pool.fetchval(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE c.relname = 'sites' AND NOT l.granted"
                    ):
                        break
                    await asyncio.sleep(0.1)
                [left] = [s for s in await scratch_schemas(history) if s != running]
                proc.kill()
                proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            await blocker.close()
        # its backend goes once it finds its client gone, and with it the schema's lock
        for _ in range(600):
            if await scratch_locks(history.pool) == 1:
                break
            await asyncio.sleep(0.1)
        assert await scratch_locks(history.pool) == 1  # the running one's
        assert sorted(await scratch_schemas(history)) == sorted([left, running])

        verdict = await replay.verify(settings.database_url, history.store, read_models())
        assert verdict.report() == []
        assert await scratch_schemas(history) == [running]
    assert await scratch_schemas(history) == []

    # and from the CLI, which says what it dropped
    await history.pool.execute(f"CREATE SCHEMA {replay.SCHEMA_PREFIX}0000abcd")
    code, _, err = await backlynk(settings, "replay", "--verify")
    assert code == 0, err
    assert f"dropped {replay.SCHEMA_PREFIX}0000abcd, left behind by a replay" in err
    assert await scratch_schemas(history) == []
