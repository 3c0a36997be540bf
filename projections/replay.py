"""Replay you can trust: read models rebuilt beside the live ones, from the event store.

* `verify` replays every read model into a scratch schema and compares it, row by row and
  column by column, with the live tables *at the same position*;
* `rebuild` builds one read model in a scratch schema and swaps it in, in one transaction,
  so a reader sees the old table or the new one, never an empty one.

Projections write unqualified table names (their DDL and their SQL), so a connection whose
`search_path` is the scratch schema alone builds the copy there; anything else a
projection might read outside its own tables would fail loudly there ("relation does not
exist") instead of touching the live tables. The event store, the tracking rows and
`projection_skips` are always named `public.` here.

The scratch schema is dropped when the work ends, on error and on Ctrl-C too. Only a
`kill -9` can leave one behind, and the next verify or rebuild drops it: each schema is
named `backlynk_replay_<8 hex digits>` after an advisory lock that the backend building it
holds as long as it lives, so a schema whose lock is free has lost its owner, while one
whose lock is held is a concurrent replay's and is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
from eventsourcing.persistence import Notification

from adapters.event_store import APPLICATION_NAME, EVENTS_TABLE, PostgresEventStore
from adapters.read_model_feed import told_sql
from adapters.transcoder import MsgspecTranscoder, TypedMapper
from projections.base import Projection, live_ddl, owners, tracking_table
from projections.runner import position

log = logging.getLogger("backlynk.replay")

SCHEMA_PREFIX = "backlynk_replay_"
#: the advisory locks of the scratch schemas: (this class, the number in the name)
SCHEMA_LOCK_CLASS = 0x626B7270

#: Columns whose value may legitimately differ between a live and a replayed run, per
#: table. None today: every column comes from the events (timestamps from the event's
#: own `timestamp`, `seq`/`position` from its notification id), none from the clock at
#: apply time. A column that ever does must be listed here, with the reason.
IGNORED_COLUMNS: dict[str, frozenset[str]] = {}


class ReplayFailed(Exception):
    """A projection cannot apply an event of the log (and no skip of it was recorded)."""

    def __init__(self, projection: str, note: Notification):
        self.projection, self.note = projection, note
        super().__init__(
            f"projection {projection}: cannot replay notification {note.id} "
            f"({note.topic}, {note.originator_id} v{note.originator_version})"
        )


class PositionMovedBack(Exception):
    """The live position went back while verifying (a rebuild reset it): try again."""


class _Failed(Exception):
    def __init__(self, note: Notification):
        self.note = note


# -- the scratch schema ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def scratch_schema(dsn: str) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A new, empty schema and a connection whose `search_path` is that schema alone.
    Both go away on leaving, however it is left. Schemas that killed replays left behind
    are dropped first."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        schema = await _own_schema(conn)
        await conn.execute(f"SET search_path = {schema}")
        await drop_stale_schemas(conn)
        # who this backend is (a pid alone could be reused once it has gone)
        backend = await conn.fetchrow(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
    except BaseException:
        conn.terminate()
        raise
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        yield schema, conn
    finally:
        # drop from a fresh connection, after this one is gone: an interrupted query or
        # transaction on it could still hold locks on the scratch tables
        with contextlib.suppress(Exception):
            await asyncio.shield(conn.close(timeout=2))
        if not conn.is_closed():
            conn.terminate()
        await asyncio.shield(_drop(dsn, schema, backend))


async def _own_schema(conn: asyncpg.Connection) -> str:
    """A schema name whose advisory lock this session now holds (until it ends)."""
    while True:
        number = secrets.randbelow(2**31)
        if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", SCHEMA_LOCK_CLASS, number):
            return f"{SCHEMA_PREFIX}{number:08x}"


async def drop_stale_schemas(conn: asyncpg.Connection) -> list[str]:
    """Drop the scratch schemas whose owner has gone (their lock is free); return them.
    A name not of this scheme (an older version's) is left for the operator."""
    dropped = []
    for (schema,) in await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname ~ $1 ORDER BY 1",
        f"^{SCHEMA_PREFIX}[0-9a-f]{{8}}$",
    ):
        number = int(schema.removeprefix(SCHEMA_PREFIX), 16)
        if not await conn.fetchval(
            "SELECT pg_try_advisory_lock($1, $2)", SCHEMA_LOCK_CLASS, number
        ):
            continue  # a replay running now
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            log.warning("dropped %s, left behind by a replay that was killed", schema)
            dropped.append(schema)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1, $2)", SCHEMA_LOCK_CLASS, number)
    return dropped


async def _drop(dsn: str, schema: str, backend: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        # a backend waiting on a lock (a live table someone holds) does not notice that its
        # client left, and keeps its locks on the scratch tables: end it, or the DROP
        # would wait for whoever holds that live table
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid = $1 AND backend_start = $2",
            backend["pid"],
            backend["backend_start"],
        )
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


async def create_tables(conn: asyncpg.Connection, projections: Sequence[Projection]) -> None:
    """The projections' tables, without their `live_ddl` (a replay notifies no one)."""
    for projection in projections:
        for statement in projection.ddl:
            await conn.execute(statement)


# -- replaying ------------------------------------------------------------------------


async def skipped(conn: asyncpg.Connection, projection: Projection) -> frozenset[int]:
    """The events an operator told this projection to pass over (`projections skip`)."""
    rows = await conn.fetch(
        "SELECT notification_id FROM public.projection_skips WHERE projection = $1",
        projection.name,
    )
    return frozenset(r[0] for r in rows)


async def replay(
    conn: asyncpg.Connection,
    store: PostgresEventStore,
    projection: Projection,
    *,
    after: int,
    upto: int,
    passed_over: frozenset[int] = frozenset(),
    batch_size: int = 500,
    mapper: TypedMapper | None = None,
) -> int:
    """Apply the events (`after`, `upto`] of the log to the tables `conn` sees, in
    batches (inside a caller's transaction each batch is a savepoint); return how many
    events were read.

    As in the live runner, an event that cannot be applied stops the replay
    (`ReplayFailed`) unless a skip of it was recorded (`passed_over`): then it is passed
    over, as it was live. A skipped event that applies now (the bug is fixed) is applied."""
    mapper = mapper or TypedMapper(MsgspecTranscoder())
    read = 0
    while after < upto:
        notes = await store.notifications(
            after, batch_size, topics=projection.topics, upto=upto, conn=conn
        )
        if not notes:
            break
        await _apply(conn, mapper, projection, notes, passed_over)
        after = notes[-1].id
        read += len(notes)
    return read


async def _apply(
    conn: asyncpg.Connection,
    mapper: TypedMapper,
    projection: Projection,
    notes: list[Notification],
    passed_over: frozenset[int],
) -> None:
    passing: set[int] = set()
    while True:
        try:
            async with conn.transaction():
                for note in notes:
                    if note.id in passing:
                        continue
                    try:
                        await projection.apply(conn, mapper.to_domain_event(note), note.id)
                    except Exception as exc:
                        raise _Failed(note) from exc
            return
        except _Failed as failed:
            if failed.note.id not in passed_over:
                raise ReplayFailed(projection.name, failed.note) from failed.__cause__
            passing.add(failed.note.id)  # the batch was rolled back: again, without it


async def _end_of_log(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(f"SELECT max(notification_id) FROM public.{EVENTS_TABLE}") or 0


# -- verify ---------------------------------------------------------------------------


@dataclass
class Verdict:
    """The differences between the live read models and a replay, at `positions`."""

    positions: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)  # the first `limit` differences
    total: int = 0  # all of them
    limit: int = 50

    @property
    def equal(self) -> bool:
        return self.total == 0

    def add(self, line: str) -> None:
        self.total += 1
        if len(self.lines) < self.limit:
            self.lines.append(line)

    def report(self) -> list[str]:
        more = self.total - len(self.lines)
        return self.lines + ([f"... and {more} more differences"] if more else [])


async def verify(
    dsn: str,
    store: PostgresEventStore,
    projections: Sequence[Projection],
    *,
    limit: int = 50,
    batch_size: int = 500,
) -> Verdict:
    """Replay `projections` into a scratch schema and compare them with the live tables.

    The live tables keep moving while this runs, so the comparison is made at a
    consistent cut: one REPEATABLE READ snapshot in which each live table is exactly as
    its recorded position left it (a batch's effects and its position commit together).
    The replay runs, in batches, up to each projection's position read beforehand, then,
    inside that snapshot, catches up to the position the snapshot shows, and compares."""
    verdict = Verdict(limit=limit)
    mapper = TypedMapper(MsgspecTranscoder())
    async with scratch_schema(dsn) as (schema, conn):
        await create_tables(conn, projections)
        reached, passed = {}, {}
        for projection in projections:
            passed[projection.name] = await skipped(conn, projection)
            reached[projection.name] = await position(conn, projection)
            await replay(
                conn,
                store,
                projection,
                after=0,
                upto=reached[projection.name],
                passed_over=passed[projection.name],
                batch_size=batch_size,
                mapper=mapper,
            )
        async with conn.transaction(isolation="repeatable_read"):
            live = {p.name: await position(conn, p) for p in projections}  # the snapshot
            for projection in projections:
                at = live[projection.name]
                if at < reached[projection.name]:
                    raise PositionMovedBack(
                        f"projection {projection.name} went back from "
                        f"{reached[projection.name]} to {at} (a rebuild?); verify again"
                    )
                await replay(
                    conn,
                    store,
                    projection,
                    after=reached[projection.name],
                    upto=at,
                    passed_over=passed[projection.name],
                    batch_size=batch_size,
                    mapper=mapper,
                )
                verdict.positions[projection.name] = at
                for table in projection.tables:
                    await compare(conn, schema, projection.name, table, verdict)
    return verdict


async def _columns(conn: asyncpg.Connection, schema: str, table: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT attname FROM pg_attribute
           WHERE attrelid = format('%I.%I', $1::text, $2::text)::regclass
             AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
        schema,
        table,
    )
    return [r[0] for r in rows]


async def _primary_key(conn: asyncpg.Connection, schema: str, table: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT a.attname FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass
             AND i.indisprimary
           ORDER BY array_position(i.indkey::int2[], a.attnum)""",
        schema,
        table,
    )
    return [r[0] for r in rows]


def _show(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def compare(
    conn: asyncpg.Connection, schema: str, projection: str, table: str, verdict: Verdict
) -> None:
    """Add to `verdict` every difference between `public.<table>` (live) and
    `<schema>.<table>` (replayed): rows missing from either side, and per column of a row
    present in both, the live value and the replayed value. Rows are streamed (a cursor),
    so memory stays bounded whatever the table's size."""
    live_columns = await _columns(conn, "public", table)
    replayed_columns = await _columns(conn, schema, table)
    for column in live_columns:
        if column not in replayed_columns:
            verdict.add(f"{projection}: {table}: column {column} is only in the live table")
    for column in replayed_columns:
        if column not in live_columns:
            verdict.add(f"{projection}: {table}: column {column} is only in the replayed table")
    ignored = IGNORED_COLUMNS.get(table, frozenset())
    columns = [c for c in live_columns if c in replayed_columns and c not in ignored]
    key = await _primary_key(conn, "public", table) or columns
    keys = ", ".join(f'"{k}"' for k in key)
    common = ", ".join(f'"{c}"' for c in columns)

    def side(schema_name: str) -> str:
        rows = f'SELECT {common} FROM "{schema_name}"."{table}"'
        return f"(SELECT {keys}, to_jsonb(x) AS v FROM ({rows}) x)"

    query = f"""SELECT {keys}, l.v, r.v FROM {side("public")} l FULL JOIN {side(schema)} r
                USING ({keys}) WHERE l.v IS DISTINCT FROM r.v ORDER BY {keys}"""
    async for row in conn.cursor(query):
        where = ", ".join(f"{k}={row[i]}" for i, k in enumerate(key))
        live, replayed = row[len(key)], row[len(key) + 1]
        prefix = f"{projection}: {table} {where}"
        if live is None:
            verdict.add(f"{prefix}: missing from the live table (the replay has it)")
        elif replayed is None:
            verdict.add(f"{prefix}: extra in the live table (the replay has no such row)")
        else:
            mine, theirs = msgspec.json.decode(live), msgspec.json.decode(replayed)
            for column in columns:
                if mine[column] != theirs[column]:
                    verdict.add(
                        f"{prefix}: {column}: live {_show(mine[column])} "
                        f"vs replayed {_show(theirs[column])}"
                    )


# -- rebuild --------------------------------------------------------------------------


@dataclass
class Rebuilt:
    projection: str
    events: int  # notifications read (of the projection's topics)
    position: int  # where the swapped-in tables stand; the live runner goes on from there


async def rebuild(
    dsn: str,
    store: PostgresEventStore,
    projection: Projection,
    *,
    batch_size: int = 500,
    lock_timeout: float = 0.2,
    close_enough: int | None = None,
) -> Rebuilt:
    """Build `projection`'s tables from position 0 in a scratch schema while the live
    ones keep serving (and the live runner keeps applying), then swap them in.

    The swap is one transaction: lock the live tables (ACCESS EXCLUSIVE: a batch of the
    live runner in flight commits first, the next one waits), lock the tracking row,
    catch the copy up to the end of the log, drop the live tables, move the copies into
    `public` and set the position to where the copy stands. A batch of the live runner
    that waited through the swap then fails its compare-and-set on the position (it read
    the old one) and is discarded; the runner goes on from the new position. Readers
    waiting on the lock see the new table when it is released: never an empty one.

    Not the runner's advisory lock: the runner holds it as long as it runs, so a rebuild
    would wait for ever. The lock wait is bounded (`lock_timeout`, below Postgres's
    deadlock check) and retried, so a rebuild never deadlocks with the runner (whose task
    events touch `job_tasks` before `jobs`) nor holds readers up for long. The copy
    catches up outside the swap first, until fewer than `close_enough` events remain, so
    the swap itself is short."""
    if not projection.tables:
        raise ValueError(f"projection {projection.name} keeps no tables to rebuild")
    close_enough = batch_size if close_enough is None else close_enough
    mapper = TypedMapper(MsgspecTranscoder())
    async with scratch_schema(dsn) as (schema, conn):
        await create_tables(conn, [projection])
        passed = await skipped(conn, projection)
        at = events = 0
        while (end := await _end_of_log(conn)) - at > close_enough:
            events += await replay(
                conn,
                store,
                projection,
                after=at,
                upto=end,
                passed_over=passed,
                batch_size=batch_size,
                mapper=mapper,
            )
            at = end
        for table in projection.tables:
            await conn.execute(f"ANALYZE {schema}.{table}")  # plans as good as the old table's
        delay = lock_timeout
        while True:
            try:
                async with conn.transaction():
                    at, last = await _swap(
                        conn,
                        store,
                        projection,
                        schema,
                        at,
                        passed,
                        batch_size,
                        mapper,
                        lock_timeout,
                    )
                events += last
                break
            except asyncpg.LockNotAvailableError:
                # readers or the live runner hold the tables: let them through, try again
                log.info("rebuild %s: the live tables are busy; trying again", projection.name)
                await asyncio.sleep(delay * secrets.SystemRandom().uniform(0.5, 1.5))
                delay = min(delay * 2, 2.0)
    return Rebuilt(projection.name, events, at)


async def _swap(
    conn: asyncpg.Connection,
    store: PostgresEventStore,
    projection: Projection,
    schema: str,
    at: int,
    passed: frozenset[int],
    batch_size: int,
    mapper: TypedMapper,
    lock_timeout: float,
) -> tuple[int, int]:
    """Inside the caller's transaction: (the new position, events read to get there)."""
    live = ", ".join(f"public.{t}" for t in projection.tables)
    tracking = f"public.{tracking_table(projection)}"
    await conn.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
    await conn.execute(f"LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE")
    await conn.execute(
        f"SELECT 1 FROM {tracking} WHERE application_name = $1 FOR UPDATE", APPLICATION_NAME
    )
    end = await _end_of_log(conn)
    read = await replay(
        conn,
        store,
        projection,
        after=at,
        upto=end,
        passed_over=passed,
        batch_size=batch_size,
        mapper=mapper,
    )
    for table in projection.tables:
        await _copy_grants(conn, table, schema)
        # no CASCADE: a view or a foreign key on the live table fails the swap, whole
        await conn.execute(f"DROP TABLE public.{table}")
        await conn.execute(f"ALTER TABLE {schema}.{table} SET SCHEMA public")
    if statements := live_ddl(projection):
        # the live table's own statements (its trigger) on the copy, now the live one
        await conn.execute("SET LOCAL search_path = public")
        for statement in statements:
            await conn.execute(statement)
    await conn.execute(
        f"UPDATE {tracking} SET notification_id = $1 WHERE application_name = $2",
        end,
        APPLICATION_NAME,
    )
    if owners(projection):  # the web processes' kept answers are of the old tables
        await conn.execute(told_sql(projection.name))
    return end, read


async def _copy_grants(conn: asyncpg.Connection, table: str, schema: str) -> None:
    """The live table's privileges (a read-only role of `READ_DATABASE_URL`, say) on
    the copy that replaces it."""
    grants = await conn.fetch(
        """SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                  a.privilege_type, a.is_grantable
           FROM pg_class c, aclexplode(c.relacl) a
           LEFT JOIN pg_roles r ON r.oid = a.grantee
           WHERE c.oid = format('public.%I', $1::text)::regclass""",
        table,
    )
    for grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        await conn.execute(f"GRANT {privilege} ON {schema}.{table} TO {grantee}{option}")
