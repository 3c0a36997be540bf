"""Postgres connections and the schema migration."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from adapters.event_store import create_schema


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection needs no `RESET ALL; UNLISTEN *; ...` (asyncpg's default, one
    more round trip per acquire): no code leaves session state on a pooled connection —
    whatever LISTENs or holds a session lock (projector, credential listener) has its
    own. An open transaction is still rolled back by the pool."""


async def connect_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, reset=_keep_session)


async def migrate(conn: asyncpg.Connection, ddl: Iterable[str]) -> None:
    """Create the event store and every read model's tables (idempotent). Serialised
    with an advisory lock so that processes starting together do not race."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('backlynk:migrate'))")
        await create_schema(conn)
        for statement in ddl:
            await conn.execute(statement)


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist."""
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
