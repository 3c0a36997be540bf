"""The directory catalogue table: reference data loaded by `backlynk directories import`
(the one table not written by the projector)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin, get_type_hints

import asyncpg
import msgspec

from domain.directory import Directory

if TYPE_CHECKING:
    from adapters.quick_reads import QuickReads

#: the catalogue's name among the read models kept by the web processes (`api.read_cache`)
CATALOGUE = "directories"

DDL = (
    """CREATE TABLE IF NOT EXISTS directories (
        id integer PRIMARY KEY,
        name text NOT NULL,
        category text NOT NULL,
        domain_rating integer NOT NULL,
        link_type text NOT NULL,
        status text NOT NULL,
        spec jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now())""",
    # `created_at` came later: a table made before it gains the column, its rows dated by
    # their last import (the best we know); every statement is a no-op the second time
    "ALTER TABLE directories ADD COLUMN IF NOT EXISTS created_at timestamptz",
    "UPDATE directories SET created_at = updated_at WHERE created_at IS NULL",
    "ALTER TABLE directories ALTER COLUMN created_at SET DEFAULT now(), "
    "ALTER COLUMN created_at SET NOT NULL",
    "CREATE INDEX IF NOT EXISTS directories_category_dr ON directories (category, domain_rating)",
    # every write (an import, an operator's SQL, a TRUNCATE alike) tells the web processes
    # that their kept catalogue answers are stale (`adapters.read_model_feed`); before that
    # the catalogue had a version table of its own
    "DROP TABLE IF EXISTS public.directories_version",
    f"""CREATE OR REPLACE FUNCTION public.backlynk_catalogue_changed() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN
            PERFORM public.backlynk_read_models_changed('{CATALOGUE}', NULL, NULL);
            RETURN NULL;
        END $body$""",
    """CREATE OR REPLACE TRIGGER backlynk_catalogue_changed
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.directories
        FOR EACH STATEMENT EXECUTE FUNCTION public.backlynk_catalogue_changed()""",
)

_encode = msgspec.json.Encoder().encode


def _unconstrained(hint: Any) -> Any:
    """`hint` less its `Annotated` constraints (patterns, bounds, lengths)."""
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    return hint


def _stored_shape(struct: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """`struct`'s fields in its order, with its types and defaults but no constraints.

    What the table holds was validated as a `Directory` by the import that wrote it
    (`upsert` takes `Directory` entries, and nothing else writes the table): reading it
    back need not match each URL against its pattern again. That check was over half of
    decoding a row (two regular expressions run per row, ~1.2 µs of ~2.2), and
    `GET /directories` decodes a row per directory listed."""
    hints = get_type_hints(struct, include_extras=True)
    return msgspec.defstruct(
        f"Stored{struct.__name__}",
        [
            (f.name, _unconstrained(hints[f.name]))
            if f.required
            else (f.name, _unconstrained(hints[f.name]), f.default)
            for f in msgspec.structs.fields(struct)
        ],
        frozen=True,
    )


_decode_stored = msgspec.json.Decoder(_stored_shape(Directory)).decode
_astuple = msgspec.structs.astuple


def stored_directory(spec: bytes) -> Directory:
    """A `spec` the table holds, as the `Directory` it was written from (its fields
    positionally: the stored shape has `Directory`'s fields in `Directory`'s order)."""
    return Directory(*_astuple(_decode_stored(spec)))


async def upsert(conn: asyncpg.Connection, entries: Sequence[Directory]) -> int:
    """Insert or update every entry by id, in one transaction. `created_at` is when an
    id was first imported; `updated_at` moves only when an import changes the entry, so
    re-importing the same file (as `make run` does on every start) changes nothing."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO directories (id, name, category, domain_rating, link_type, status,
                                        spec, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now(), now())
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                   category = EXCLUDED.category, domain_rating = EXCLUDED.domain_rating,
                   link_type = EXCLUDED.link_type, status = EXCLUDED.status,
                   spec = EXCLUDED.spec, updated_at = now()
               WHERE directories.spec IS DISTINCT FROM EXCLUDED.spec""",
            [
                (
                    d.id,
                    d.name,
                    d.category,
                    d.domain_rating,
                    d.link_type,
                    d.status,
                    _encode(d).decode(),
                )
                for d in entries
            ],
        )
    return len(entries)


class Listed(msgspec.Struct, frozen=True):
    """A catalogue row as `GET /directories` shows it: the entry and its dates, with the
    value the chosen order sorts by (for the cursor)."""

    directory: Directory
    created_at: datetime
    updated_at: datetime
    sort_value: Any = None


IdKey = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]  # directory ids are integers
_SORT_VALUES: dict[str, Any] = {
    "dr": Annotated[int, msgspec.Meta(ge=0, le=100)],
    "-dr": Annotated[int, msgspec.Meta(ge=0, le=100)],
    "name": Annotated[str, msgspec.Meta(max_length=1000)],
}


@dataclass(frozen=True)
class Sort:
    """One order of `GET /directories`, paged by keyset on (`column`, id) — id ascending
    breaks ties, so the order is total and a page never repeats or skips a row."""

    name: str
    #: SQL of the value sorted by; None sorts by id alone
    column: str | None = None
    descending: bool = False

    @property
    def cursor_type(self) -> Any:
        """What a cursor of this order decodes to. It names the order, so a cursor handed
        out for another order fails to decode (422) instead of paging wrongly."""
        if self.column is None:
            return IdKey
        return tuple[Literal[self.name], _SORT_VALUES[self.name], IdKey]  # type: ignore[misc]

    def cursor_key(self, row: Listed) -> Any:
        if self.column is None:
            return row.directory.id
        return (self.name, row.sort_value, row.directory.id)


BY_ID = Sort("id")
#: `?sort=` (API.md): names compare case-insensitively in code-point order (collation
#: "C"), so the order is the same on every server whatever its locale
SORTS = {
    s.name: s
    for s in (
        Sort("dr", "domain_rating"),
        Sort("-dr", "domain_rating", descending=True),
        Sort("name", 'lower(name) COLLATE "C"'),
    )
}


def _row(row: Any) -> Directory:
    return stored_directory(row["spec"].encode() if isinstance(row["spec"], str) else row["spec"])


def _listed(row: Any) -> Listed:
    return Listed(_row(row), row["created_at"], row["updated_at"], row["sort_value"])


_LISTED = "spec::text AS spec, created_at, updated_at"


class PostgresDirectoryCatalogue:
    """Implements `domain.ports.DirectoryCatalogue`."""

    def __init__(self, pool: asyncpg.Pool | QuickReads):
        """`pool`: anything with `fetch` and `fetchrow` (each method is one statement)."""
        self.pool = pool

    async def by_ids(self, ids: Sequence[int]) -> dict[int, Directory]:
        rows = await self.pool.fetch(
            "SELECT spec::text AS spec FROM directories WHERE id = ANY($1::int[])", list(ids)
        )
        return {d.id: d for d in map(_row, rows)}

    async def every(self) -> list[Directory]:
        rows = await self.pool.fetch("SELECT spec::text AS spec FROM directories ORDER BY id")
        return [_row(r) for r in rows]

    async def active_within(self, dr_cap: int | None) -> list[Directory]:
        rows = await self.pool.fetch(
            "SELECT spec::text AS spec FROM directories WHERE status = 'active' "
            "AND ($1::int IS NULL OR domain_rating <= $1) ORDER BY id",
            dr_cap,
        )
        return [_row(r) for r in rows]

    async def listed(self, directory_id: int, *, dr_cap: int | None) -> Listed | None:
        """One directory as `GET /directories/{id}` shows it; None when unknown or above
        the plan's cap (the caller cannot tell which)."""
        row = await self.pool.fetchrow(
            f"SELECT {_LISTED}, NULL AS sort_value FROM directories "
            "WHERE id = $1 AND ($2::int IS NULL OR domain_rating <= $2)",
            directory_id,
            dr_cap,
        )
        return _listed(row) if row else None

    async def search(
        self,
        *,
        dr_cap: int | None,
        category: str | None,
        min_dr: int | None,
        max_dr: int | None,
        q: str | None,
        sort: Sort = BY_ID,
        after: Any = None,
        limit: int,
    ) -> list[Listed]:
        """What `GET /directories` lists: within the plan cap, filtered, in `sort`'s
        order, after the cursor key `after` (as `sort.cursor_key` made it)."""
        if q is not None:  # a literal substring, not a LIKE pattern
            q = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args: list[Any] = [dr_cap, category, min_dr, max_dr, q]
        where = [
            "($1::int IS NULL OR domain_rating <= $1)",
            "($2::text IS NULL OR lower(category) = lower($2))",
            "($3::int IS NULL OR domain_rating >= $3)",
            "($4::int IS NULL OR domain_rating <= $4)",
            "($5::text IS NULL OR name ILIKE '%' || $5 || '%' OR category ILIKE '%' || $5 || '%')",
        ]
        c = sort.column
        if after is not None and c is None:
            args.append(after)
            where.append("id > $6")
        elif after is not None:
            args += [after[1], after[2]]
            op = "<" if sort.descending else ">"
            where.append(f"({c} {op} $6 OR ({c} = $6 AND id > $7))")
        order = "id" if c is None else f"{c} {'DESC' if sort.descending else 'ASC'}, id"
        args.append(limit)
        rows = await self.pool.fetch(
            f"SELECT {_LISTED}, {c or 'NULL'} AS sort_value FROM directories "
            f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ${len(args)}",
            *args,
        )
        return [_listed(r) for r in rows]

    async def coverage(self) -> list[tuple[str, int, int]]:
        """(category, domain_rating, count) of active directories, for the public page."""
        rows = await self.pool.fetch(
            "SELECT category, domain_rating, count(*) FROM directories WHERE status = 'active' "
            "GROUP BY category, domain_rating ORDER BY category, domain_rating"
        )
        return [(r[0], r[1], r[2]) for r in rows]
