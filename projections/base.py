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

from typing import Any, NamedTuple, Protocol

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


class Owners(NamedTuple):
    """Where a projection's rows say which account owns the aggregate whose events made
    them: `SELECT {account} FROM {table} WHERE {key} = <originator id>`. A projection with
    `owners` tells the web processes which aggregates and accounts each of its batches
    changed (`adapters.read_model_feed`), so they may keep answers made of its tables
    (`api.read_cache`). It must write only rows of the aggregates whose events it applies
    (an answer about another aggregate would not hear of the change)."""

    table: str
    key: str
    account: str


def owners(projection: Projection) -> Owners | None:
    found: Owners | None = getattr(projection, "owners", None)
    return found


def tracking_table(projection: Projection) -> str:
    return f"{projection.name}_tracking"


def tracking_ddl(projection: Projection) -> list[str]:
    """The shape of eventsourcing's single-row PostgresTrackingRecorder table. (A
    `changed_in` column versioned the read models for a while, before the web processes
    were told by notification, `adapters.read_model_feed`: it goes.)"""
    table = tracking_table(projection)
    return [
        f"""CREATE TABLE IF NOT EXISTS public.{table} (
            application_name text, notification_id bigint,
            PRIMARY KEY (application_name))""",
        f"ALTER TABLE public.{table} DROP COLUMN IF EXISTS changed_in",
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
