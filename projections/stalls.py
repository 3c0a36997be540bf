"""Stuck projections and skipped events: what the operator sees and decides.

When a projection cannot apply an event, the runner keeps what came before it, records a
*stall* (which event, the error, since when) and retries with back-off; the other
projections go on. `/readyz` reports the stalls, and `backlynk projections skip NAME
POSITION` records the operator's decision in `projection_skips` (who, when, why, and what
the event and its error were) and moves the projection past that one event, in the same
transaction. A replay (rebuild) passes over a recorded skip the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from adapters.event_store import APPLICATION_NAME
from projections.base import Projection, tracking_table

#: NOTIFY channel on which a skip wakes the runner of that projection (payload: its name)
CHANNEL = "backlynk_projections"

DDL = (
    # one row per projection that is stuck now; `after_position` is where it stopped
    """CREATE TABLE IF NOT EXISTS projection_stalls (
        projection text PRIMARY KEY,
        notification_id bigint NOT NULL,
        after_position bigint NOT NULL,
        topic text NOT NULL,
        originator_id uuid NOT NULL,
        originator_version bigint NOT NULL,
        error text NOT NULL,
        attempts int NOT NULL,
        since timestamptz NOT NULL DEFAULT now(),
        last_attempt_at timestamptz NOT NULL DEFAULT now())""",
    # the audit trail of every event an operator told a projection to pass over
    """CREATE TABLE IF NOT EXISTS projection_skips (
        projection text NOT NULL,
        notification_id bigint NOT NULL,
        topic text NOT NULL,
        originator_id uuid NOT NULL,
        originator_version bigint NOT NULL,
        error text NOT NULL,
        skipped_by text NOT NULL,
        reason text,
        skipped_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (projection, notification_id))""",
)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
ERROR_CHARS = 1000


class Stall(msgspec.Struct, frozen=True):
    projection: str
    notification_id: int
    after_position: int
    topic: str
    originator_id: UUID
    originator_version: int
    error: str
    attempts: int
    since: datetime
    last_attempt_at: datetime


class Skip(msgspec.Struct, frozen=True):
    projection: str
    notification_id: int
    topic: str
    originator_id: UUID
    originator_version: int
    error: str
    skipped_by: str
    reason: str | None
    skipped_at: datetime


class SkipRefused(Exception):
    """A one-line reason why a skip was not recorded (nothing changed)."""


def describe(error: BaseException) -> str:
    """The error as stored and shown: the text of a failing event may carry NUL or other
    control characters (the very reason it failed), which must not poison this row too."""
    return _CONTROL.sub("?", f"{type(error).__name__}: {error}")[:ERROR_CHARS]


async def record(
    conn: asyncpg.Connection,
    projection: str,
    *,
    notification_id: int,
    after: int,
    topic: str,
    originator_id: UUID,
    originator_version: int,
    error: str,
) -> int:
    """Record (or bump) the stall of `projection`; returns the attempts so far."""
    return await conn.fetchval(
        """INSERT INTO projection_stalls AS s (projection, notification_id, after_position, topic,
               originator_id, originator_version, error, attempts)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 1)
           ON CONFLICT (projection) DO UPDATE SET
               attempts = CASE WHEN s.notification_id = EXCLUDED.notification_id
                               THEN s.attempts + 1 ELSE 1 END,
               since = CASE WHEN s.notification_id = EXCLUDED.notification_id
                            THEN s.since ELSE now() END,
               notification_id = EXCLUDED.notification_id, after_position = EXCLUDED.after_position,
               topic = EXCLUDED.topic, originator_id = EXCLUDED.originator_id,
               originator_version = EXCLUDED.originator_version, error = EXCLUDED.error,
               last_attempt_at = now()
           RETURNING attempts""",
        projection,
        notification_id,
        after,
        topic,
        originator_id,
        originator_version,
        error,
    )


async def stalled_at(conn: asyncpg.Connection, projection: str) -> int:
    """The notification id `projection` was recorded stuck at (0: none)."""
    value = await conn.fetchval(
        "SELECT notification_id FROM projection_stalls WHERE projection = $1", projection
    )
    return value or 0


async def clear(conn: asyncpg.Connection, projection: str) -> None:
    await conn.execute("DELETE FROM projection_stalls WHERE projection = $1", projection)


async def positions(conn: asyncpg.Connection | asyncpg.Pool, names: list[Projection]) -> dict:
    if not names:
        return {}
    query = " UNION ALL ".join(
        f"SELECT '{p.name}', notification_id FROM public.{tracking_table(p)} "
        "WHERE application_name = $1"
        for p in names
    )
    return {r[0]: r[1] for r in await conn.fetch(query, APPLICATION_NAME)}


async def stuck(
    conn: asyncpg.Connection | asyncpg.Pool, projections: list[Projection]
) -> list[Stall]:
    """The projections stuck now: a recorded stall whose projection has not moved since
    (a stall left behind by a runner that died after the event went through is ignored)."""
    rows = await conn.fetch("SELECT * FROM projection_stalls ORDER BY projection")
    if not rows:
        return []
    stalls = [Stall(**dict(r)) for r in rows]
    known = {p.name: p for p in projections}
    at = await positions(conn, [known[s.projection] for s in stalls if s.projection in known])
    return [s for s in stalls if at.get(s.projection) == s.after_position]


async def was_skipped(conn: asyncpg.Connection, projection: str, notification_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM projection_skips WHERE projection = $1 AND notification_id = $2",
            projection,
            notification_id,
        )
    )


async def pass_over(
    conn: asyncpg.Connection, projection: Projection, notification_id: int, after: int
) -> bool:
    """Move `projection` from `after` to `notification_id` (compare-and-set): the one event
    between them is not applied. False if the projection is no longer at `after`."""
    moved = await conn.fetchval(
        f"UPDATE public.{tracking_table(projection)} SET notification_id = $1 "
        "WHERE application_name = $2 AND notification_id = $3 RETURNING 1",
        notification_id,
        APPLICATION_NAME,
        after,
    )
    return moved is not None


async def skip(
    conn: asyncpg.Connection,
    projection: Projection,
    notification_id: int,
    *,
    skipped_by: str,
    reason: str | None,
) -> Skip:
    """Record the operator's skip of the event `projection` is stuck at, and move the
    projection past it, in one transaction. Refused (nothing changes) unless the
    projection is stuck at exactly `notification_id` now."""
    name = projection.name
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT * FROM projection_stalls WHERE projection = $1 FOR UPDATE", name
        )
        stall = Stall(**dict(row)) if row else None
        if stall is None:
            raise SkipRefused(f"projection {name!r} is not stuck; nothing to skip")
        if stall.notification_id != notification_id:
            raise SkipRefused(
                f"projection {name!r} is stuck at {stall.notification_id}, not {notification_id}"
            )
        if not await pass_over(conn, projection, notification_id, stall.after_position):
            raise SkipRefused(
                f"projection {name!r} has moved on since it stopped at {notification_id}; "
                "nothing to skip"
            )
        done = await conn.fetchrow(
            """INSERT INTO projection_skips (projection, notification_id, topic, originator_id,
                   originator_version, error, skipped_by, reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
            name,
            notification_id,
            stall.topic,
            stall.originator_id,
            stall.originator_version,
            stall.error,
            _CONTROL.sub("?", skipped_by)[:200],
            _CONTROL.sub("?", reason)[:ERROR_CHARS] if reason else None,
        )
        await clear(conn, name)
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, name)
    return Skip(**dict(done))


async def skips(conn: asyncpg.Connection | asyncpg.Pool, limit: int = 20) -> list[Skip]:
    rows = await conn.fetch(
        "SELECT * FROM projection_skips ORDER BY skipped_at DESC LIMIT $1", limit
    )
    return [Skip(**dict(r)) for r in rows]
