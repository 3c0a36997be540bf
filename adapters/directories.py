"""The directory catalogue table: reference data loaded by `backlynk directories import`
(the one table not written by the projector)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from domain.directory import Directory

DDL = (
    """CREATE TABLE IF NOT EXISTS directories (
        id integer PRIMARY KEY,
        name text NOT NULL,
        category text NOT NULL,
        domain_rating integer NOT NULL,
        link_type text NOT NULL,
        status text NOT NULL,
        spec jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX IF NOT EXISTS directories_category_dr ON directories (category, domain_rating)",
)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Directory).decode


async def upsert(conn: asyncpg.Connection, entries: Sequence[Directory]) -> int:
    """Insert or update every entry by id, in one transaction."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO directories (id, name, category, domain_rating, link_type, status,
                                        spec, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now())
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                   category = EXCLUDED.category, domain_rating = EXCLUDED.domain_rating,
                   link_type = EXCLUDED.link_type, status = EXCLUDED.status,
                   spec = EXCLUDED.spec, updated_at = now()""",
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


def _row(row: Any) -> Directory:
    return _decode(row["spec"].encode() if isinstance(row["spec"], str) else row["spec"])


class PostgresDirectoryCatalogue:
    """Implements `domain.ports.DirectoryCatalogue`."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def by_ids(self, ids: Sequence[int]) -> dict[int, Directory]:
        rows = await self.pool.fetch(
            "SELECT spec::text AS spec FROM directories WHERE id = ANY($1::int[])", list(ids)
        )
        return {d.id: d for d in map(_row, rows)}

    async def active_within(self, dr_cap: int | None) -> list[Directory]:
        rows = await self.pool.fetch(
            "SELECT spec::text AS spec FROM directories WHERE status = 'active' "
            "AND ($1::int IS NULL OR domain_rating <= $1) ORDER BY id",
            dr_cap,
        )
        return [_row(r) for r in rows]

    async def search(
        self,
        *,
        dr_cap: int | None,
        category: str | None,
        min_dr: int | None,
        max_dr: int | None,
        q: str | None,
        after_id: int | None,
        limit: int,
    ) -> list[Directory]:
        """What `GET /directories` lists: within the plan cap, filtered, by id."""
        if q is not None:  # a literal substring, not a LIKE pattern
            q = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self.pool.fetch(
            """SELECT spec::text AS spec FROM directories
               WHERE ($1::int IS NULL OR domain_rating <= $1)
                 AND ($2::text IS NULL OR lower(category) = lower($2))
                 AND ($3::int IS NULL OR domain_rating >= $3)
                 AND ($4::int IS NULL OR domain_rating <= $4)
                 AND ($5::text IS NULL OR name ILIKE '%' || $5 || '%'
                      OR category ILIKE '%' || $5 || '%')
                 AND ($6::int IS NULL OR id > $6)
               ORDER BY id LIMIT $7""",
            dr_cap,
            category,
            min_dr,
            max_dr,
            q,
            after_id,
            limit,
        )
        return [_row(r) for r in rows]

    async def coverage(self) -> list[tuple[str, int, int]]:
        """(category, domain_rating, count) of active directories, for the public page."""
        rows = await self.pool.fetch(
            "SELECT category, domain_rating, count(*) FROM directories WHERE status = 'active' "
            "GROUP BY category, domain_rating ORDER BY category, domain_rating"
        )
        return [(r[0], r[1], r[2]) for r in rows]
