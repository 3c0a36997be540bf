"""What a projection is: a name, the tables it owns, and a function that applies one
domain event to them inside the runner's transaction.

A projection may also offer `async apply_batch(conn, events)`, `events` being a list of
(event, notification id) in log order: the same effect as `apply` on each in turn, in
fewer statements (see `projections.batch`). The runner then uses it, and falls back to
`apply` one event at a time when it raises.

A projection may also have `live_ddl`: statements for its live tables only (a trigger that
tells listeners of a change), run after `ddl` by the migration and by a rebuild on the
table it swaps in, never on a replay's scratch copy."""

from __future__ import annotations

from typing import Any, Protocol

import asyncpg

from adapters.event_store import APPLICATION_NAME


class Projection(Protocol):
    #: unique name; also names the tracking table `<name>_tracking`
    name: str
    #: CREATE statements for the tables it owns (idempotent)
    ddl: tuple[str, ...]
    #: tables emptied by a rebuild
    tables: tuple[str, ...]
    #: event classes it reads; the runner decodes only these (empty: all)
    topics: tuple[str, ...]

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        """Apply one event. Runs in the runner's transaction together with the tracking
        update, so it must do nothing outside `conn` that cannot be repeated."""
        ...


def tracking_table(projection: Projection) -> str:
    return f"{projection.name}_tracking"


#: what a tracking row's `changed_in` becomes in a transaction that changes the
#: projection's tables: that transaction's id (they only grow)
CHANGED_NOW = "pg_current_xact_id()::text::bigint"


def tracking_ddl(projection: Projection) -> list[str]:
    """The shape of eventsourcing's single-row PostgresTrackingRecorder table, plus
    `changed_in`: the id of the last transaction that changed the projection's tables
    (its version, for the web processes' read cache: `adapters.read_versions`). The
    position moves whenever the projection passes events, `changed_in` only when it
    applies some (or is reset, or rebuilt)."""
    table = tracking_table(projection)
    return [
        f"""CREATE TABLE IF NOT EXISTS public.{table} (
            application_name text, notification_id bigint,
            PRIMARY KEY (application_name))""",
        f"ALTER TABLE public.{table} ADD COLUMN IF NOT EXISTS changed_in bigint NOT NULL DEFAULT 0",
        f"""INSERT INTO public.{table} VALUES ('__migration__', 1), ('{APPLICATION_NAME}', 0)
            ON CONFLICT DO NOTHING""",
    ]


def live_ddl(projection: Projection) -> tuple[str, ...]:
    """The statements for the live tables alone (see the module's docstring)."""
    return getattr(projection, "live_ddl", ())


def all_ddl(projections: list[Projection]) -> list[str]:
    out: list[str] = []
    for projection in projections:
        out.extend(projection.ddl)
        out.extend(live_ddl(projection))
        out.extend(tracking_ddl(projection))
    return out
