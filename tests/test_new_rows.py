"""`projections.batch.NewRows`: rows a batch only adds, written with one COPY, give the
table the per-event INSERTs give it, and fail wherever one of those INSERTs would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from projections.batch import NewRows, Refused

DDL = """CREATE TABLE {name} (
    a uuid NOT NULL, v bigint NOT NULL, note text, at timestamptz NOT NULL,
    doc jsonb NOT NULL, n integer, PRIMARY KEY (a, v))"""
INSERT = "INSERT INTO {name} (a, v, note, at, doc, n) VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
T0 = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
async def tables(infra, settings):
    """Two empty tables of the same shape: one for the COPY, one for per-event INSERTs."""
    names = [f"new_rows_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    conn = await asyncpg.connect(settings.database_url)
    for name in names:
        await conn.execute(DDL.format(name=name))
    try:
        yield conn, *names
    finally:
        for name in names:
            await conn.execute(f"DROP TABLE {name}")
        await conn.close()


def row(a: uuid.UUID, v: int, **given) -> dict:
    values = {"a": a, "v": v, "note": "ü", "at": T0, "doc": '{"x": [1, "\\u00e9"]}', "n": 7}
    return {**values, **given}


async def contents(conn: asyncpg.Connection, table: str) -> list:
    return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY a, v")]


async def test_the_copy_gives_the_rows_the_per_event_inserts_give(tables):
    conn, copied, inserted = tables
    a, b = uuid.uuid4(), uuid.uuid4()
    rows = [row(a, 1), row(a, 2, note=None, n=None), row(b, 1, doc="[]")]
    rows.append({k: v for k, v in row(b, 2).items() if k not in ("note", "n")})  # left out
    new = NewRows(copied, ("a", "v"))
    await new.load(conn)
    for r in rows:
        new.insert(r)
    async with conn.transaction():
        await new.write(conn)
    for r in rows:
        await conn.execute(
            INSERT.format(name=inserted), *[r.get(c) for c in ("a", "v", "note", "at", "doc", "n")]
        )
    assert await contents(conn, copied) == await contents(conn, inserted)
    assert len(await contents(conn, copied)) == 4


async def test_a_key_the_table_holds_fails_the_copy_as_it_fails_an_insert(tables):
    conn, copied, _ = tables
    a = uuid.uuid4()
    await conn.execute(INSERT.format(name=copied), a, 1, None, T0, "{}", None)
    new = NewRows(copied, ("a", "v"))
    await new.load(conn)
    new.insert(row(a, 2))
    new.insert(row(a, 1))
    with pytest.raises(asyncpg.UniqueViolationError):
        async with conn.transaction():
            await new.write(conn)
    assert len(await contents(conn, copied)) == 1  # nothing of the batch was kept


@pytest.mark.parametrize(
    "bad",
    [
        {"note": "nul\x00"},  # Postgres refuses a NUL in text
        {"doc": '"\\u0000"'},  # and an escaped NUL in jsonb
        {"at": None},  # NULL in a NOT NULL column
        {"n": 2**31},  # out of an integer's range
        {"n": "1"},  # a value of another type
        {"missing": 1},  # a column the table does not have
    ],
)
async def test_a_value_the_insert_would_fail_on_is_refused(tables, bad):
    conn, copied, inserted = tables
    new = NewRows(copied, ("a", "v"))
    await new.load(conn)
    with pytest.raises(Refused):
        new.insert(row(uuid.uuid4(), 1, **bad))
    # and the per-event INSERT does fail on it (the two would not do the same otherwise)
    if "missing" not in bad:
        values = row(uuid.uuid4(), 1, **bad)
        with pytest.raises((asyncpg.PostgresError, asyncpg.DataError, ValueError, TypeError)):
            await conn.execute(
                INSERT.format(name=inserted),
                *[values[c] for c in ("a", "v", "note", "at", "doc", "n")],
            )
    assert not new.added


async def test_a_naive_instant_is_refused_too(tables):
    """The per-event INSERT takes it (read in some zone): refusing is strict, and safe (the
    runner applies the batch one event at a time)."""
    conn, copied, _ = tables
    new = NewRows(copied, ("a", "v"))
    await new.load(conn)
    with pytest.raises(Refused):
        new.insert(row(uuid.uuid4(), 1, at=datetime(2026, 1, 1)))


async def test_a_key_added_twice_in_one_batch_is_refused(tables):
    conn, copied, _ = tables
    a = uuid.uuid4()
    new = NewRows(copied, ("a", "v"))
    await new.load(conn)
    new.insert(row(a, 1))
    with pytest.raises(Refused):
        new.insert(row(a, 1, note="again"))
