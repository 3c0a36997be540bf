"""Shared set-up for the benchmarks: a throw-away database on the configured server."""

from __future__ import annotations

import os
import signal
import sys

import asyncpg

from adapters.db import migrate
from backlynk_cli import migrate_ddl

BASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/backlynk")


def stop_cleanly_on_sigterm() -> None:
    """`kill` (SIGTERM) ends a bench as Ctrl-C does: by an exception, so its `finally`
    blocks stop the processes it started and drop its database. Python's default for
    SIGTERM ends it at once and leaves its servers running; and a bench started in the
    background from a script ignores SIGINT, so `kill` is the way to stop it there."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def url_for(name: str) -> str:
    head, _, tail = BASE_URL.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


async def fresh_database(name: str, extra_ddl: list[str] | None = None) -> str:
    admin = await asyncpg.connect(url_for("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = url_for(name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, [*migrate_ddl(), *(extra_ddl or [])])
    finally:
        await conn.close()
    return url


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(url_for("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


_TICK = os.sysconf("SC_CLK_TCK")


async def backend_cpu(conn: asyncpg.Connection) -> float:
    """CPU seconds used so far by the backends of this database (the server must be on
    this machine: /proc/<pid>/stat of each; nan when it cannot be read)."""
    pids = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return _cpu_of([pid for (pid,) in pids])


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return total
