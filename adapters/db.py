"""Postgres connections and the schema migration."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from adapters.event_store import create_schema


async def connect_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)


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
