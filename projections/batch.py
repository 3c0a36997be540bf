"""Set-based apply of a batch of events: rows folded in Python, written once.

A projection's `apply_batch` loads the rows its events touch (one SELECT per table), folds
every event into them in order, as its per-event `apply` would change them, and writes each
table's changed rows with one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE`.
Several events for one row thus give the row the per-event path gives it. A table the
batch only adds rows to (a log, whose rows no event reads back) is `NewRows`: nothing is
read first, and its rows are written with one COPY, which fails as the per-event INSERT
would on a key the table holds already.

The per-event path stays the oracle (tests compare both over random sequences) and the
fallback: whatever the batch cannot do exactly as the per-event path would — an INSERT of
a row that exists, a value its column would refuse (a NUL in text, NULL in a NOT NULL
column, an integer out of range, a value of another type) — raises `Refused` (or the
database raises at the write), and the runner applies that batch one event at a time,
which names the event. Every assignment is checked, not only the row's last state, because
the per-event path would fail at the first bad value even if a later event replaced it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from projections.views import values


def as_columns(view_row: msgspec.Struct, **same: Any) -> dict[str, Any]:
    """A view's row as `views.insert` writes it (jsonb fields as JSON text), plus `same`."""
    names = view_row.__struct_fields__
    return {**dict(zip(names, values(type(view_row), view_row, names), strict=True)), **same}


class Refused(Exception):
    """The batch cannot be applied as the per-event path would: apply it event by event."""


def _integer(bound: int) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and -bound <= v < bound


#: per column type, what the per-event statement surely takes (a NUL in text and an escaped
#: NUL in jsonb are refused by Postgres; a naive datetime would be read in the server's zone)
_ACCEPTS: dict[str, Callable[[Any], bool]] = {
    "integer": _integer(2**31),
    "bigint": _integer(2**63),
    "text": lambda v: isinstance(v, str) and "\x00" not in v,
    "jsonb": lambda v: isinstance(v, str) and "\\u0000" not in v and "\x00" not in v,
    "uuid": lambda v: isinstance(v, UUID),
    "timestamp with time zone": lambda v: isinstance(v, datetime) and v.tzinfo is not None,
    "boolean": lambda v: type(v) is bool,
}


class Column:
    __slots__ = ("accepts", "name", "not_null", "ok", "type")

    def __init__(self, name: str, type_: str, not_null: bool):
        self.name, self.type, self.not_null = name, type_, not_null
        accepts = _ACCEPTS.get(type_, lambda v: False)  # another type: never batched
        self.accepts = accepts
        #: `check` as one test, called once per assignment (the hot path of a batch)
        self.ok: Callable[[Any], bool] = (
            (lambda v: v is not None and accepts(v))
            if not_null
            else (lambda v: v is None or accepts(v))
        )

    def check(self, value: Any) -> None:
        """Refuse a value the per-event statement would fail on (or might: be strict)."""
        if not self.ok(value):
            self.refuse(value)

    def refuse(self, value: Any) -> None:
        if value is None:
            raise Refused(f"NULL in {self.name}")
        raise Refused(f"{value!r} in {self.name} ({self.type})")


_COLUMNS: dict[str, list[Column]] = {}


async def table_columns(conn: asyncpg.Connection, table: str) -> list[Column]:
    """The columns of `table` in order, from the catalog (cached: the DDL is fixed)."""
    if table not in _COLUMNS:
        rows = await conn.fetch(
            """SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
               WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
               ORDER BY attnum""",
            table,
        )
        _COLUMNS[table] = [Column(r[0], r[1], r[2]) for r in rows]
    return _COLUMNS[table]


class Rows:
    """The rows of one table that a batch touches, by primary key (a tuple)."""

    def __init__(self, table: str, key: tuple[str, ...]):
        self.table, self.key = table, key
        self.rows: dict[tuple, dict[str, Any] | None] = {}
        self.dirty: set[tuple] = set()
        self.columns: dict[str, Column] = {}

    async def load(self, conn: asyncpg.Connection, keys: set[tuple]) -> None:
        """Read the rows of `keys` as they are now (absent ones become None)."""
        self.columns = {c.name: c for c in await table_columns(conn, self.table)}
        self.rows = dict.fromkeys(keys)
        if not keys:
            return
        select = ", ".join(
            f"t.{c.name}::text" if c.type == "jsonb" else f"t.{c.name}"
            for c in self.columns.values()
        )
        arrays = ", ".join(f"${i}::{self.columns[k].type}[]" for i, k in enumerate(self.key, 1))
        names = ", ".join(self.key)
        join = " AND ".join(f"t.{k} = u.{k}" for k in self.key)
        records = await conn.fetch(
            f"SELECT {select} FROM {self.table} t JOIN unnest({arrays}) AS u({names}) ON {join}",
            *[list(part) for part in zip(*keys, strict=True)],
        )
        for r in records:
            row = dict(zip(self.columns, r, strict=True))
            self.rows[tuple(row[k] for k in self.key)] = row

    def get(self, key: tuple) -> dict[str, Any] | None:
        return self.rows[key]

    def insert(self, row: dict[str, Any], *, if_absent: bool = False) -> None:
        """A new row (every column). A row that exists is kept when `if_absent` (as `ON
        CONFLICT DO NOTHING`), else refused (as a plain INSERT would fail)."""
        columns = self.columns
        if row.keys() != columns.keys():
            if not row.keys() <= columns.keys():
                raise Refused(f"{self.table}: columns {sorted(row)}")
            # a column left out is NULL, as in an INSERT naming the others (no projection's
            # table has another default for a column its INSERT leaves out)
            row = {name: row.get(name) for name in columns}
        else:
            row = dict(row)  # the caller's dict is theirs
        key = tuple([row[k] for k in self.key])
        exists = self.rows[key] is not None  # a key not loaded fails: never guess
        # the values are bound before the conflict is found
        for column in columns.values():
            value = row[column.name]
            if not column.ok(value) and (value is not None or not exists):
                column.refuse(value)
        if exists:
            if if_absent:
                return
            raise Refused(f"{self.table} {key} exists")
        self.rows[key] = row
        self.dirty.add(key)

    def update(self, key: tuple, **changes: Any) -> dict[str, Any] | None:
        """Set columns of the row `key`; nothing when it does not exist (as an UPDATE
        that matches no row). Returns the row."""
        row = self.rows[key]
        columns = self.columns
        for name, value in changes.items():
            # a value the statement cannot take fails it even when it matches no row
            column = columns[name]
            if not column.ok(value) and (value is not None or row is not None):
                column.refuse(value)
        if row is None:
            return None
        row.update(changes)
        self.dirty.add(key)
        return row

    async def write(self, conn: asyncpg.Connection) -> None:
        """Write every changed row with one statement."""
        if not self.dirty:
            return
        cols = list(self.columns.values())
        changed = [self.rows[k] for k in self.dirty]
        arrays = ", ".join(
            f"${i}::text[]" if c.type == "jsonb" else f"${i}::{c.type}[]"
            for i, c in enumerate(cols, 1)
        )
        names = ", ".join(c.name for c in cols)
        select = ", ".join(
            f"u.{c.name}::jsonb" if c.type == "jsonb" else f"u.{c.name}" for c in cols
        )
        sets = ", ".join(f"{c.name} = EXCLUDED.{c.name}" for c in cols if c.name not in self.key)
        await conn.execute(
            f"""INSERT INTO {self.table} ({names}) SELECT {select}
                FROM unnest({arrays}) AS u({names})
                ON CONFLICT ({", ".join(self.key)}) DO UPDATE SET {sets}""",
            *[[row[c.name] for row in changed] for c in cols],
        )


class NewRows:
    """Rows that a batch adds to one table and never reads back (each event's INSERT of a
    log entry): no read first, one COPY at the end. A key the table holds already fails
    the COPY (a unique violation, as it fails the per-event INSERT), so the runner applies
    the batch one event at a time; a key added twice in the batch is refused here."""

    def __init__(self, table: str, key: tuple[str, ...]):
        self.table, self.key = table, key
        self.columns: list[Column] = []
        self.added: dict[tuple, tuple] = {}

    async def load(self, conn: asyncpg.Connection) -> None:
        """Read the table's columns (cached), before the first `insert`."""
        self.columns = await table_columns(conn, self.table)

    def insert(self, row: dict[str, Any]) -> None:
        """A new row (a column left out is NULL, as in an INSERT naming the others)."""
        if not row.keys() <= {c.name for c in self.columns}:
            raise Refused(f"{self.table}: columns {sorted(row)}")
        values = tuple([row.get(c.name) for c in self.columns])
        for column, value in zip(self.columns, values, strict=True):
            if not column.ok(value):
                column.refuse(value)
        key = tuple([row.get(k) for k in self.key])
        if key in self.added:
            raise Refused(f"{self.table} {key} added twice")
        self.added[key] = values

    async def write(self, conn: asyncpg.Connection) -> None:
        """COPY the rows in (binary: jsonb columns take their JSON text, as `Rows`)."""
        if self.added:
            await conn.copy_records_to_table(
                self.table,
                records=list(self.added.values()),
                columns=[c.name for c in self.columns],
            )
