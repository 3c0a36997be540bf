"""Every projection the projector runs, in one list."""

from __future__ import annotations

from typing import Any

from adapters.queue import TaskQueue
from projections.accounts import AccountsProjection
from projections.api_keys import ApiKeysProjection
from projections.audit import AuditProjection
from projections.backlinks import BacklinksProjection
from projections.base import Projection
from projections.dispatcher import Dispatcher
from projections.jobs import JobsProjection
from projections.reports import ReportsProjection
from projections.sites import SitesProjection
from projections.usage import UsageProjection
from projections.webhooks import WebhooksProjection


def read_models() -> list[Projection]:
    return [
        AccountsProjection(),
        ApiKeysProjection(),
        SitesProjection(),
        JobsProjection(),
        UsageProjection(),
        BacklinksProjection(),
        AuditProjection(),
        ReportsProjection(),
    ]


#: projections that are gone, and the projection that now keeps their tables: an existing
#: database still has their tracking table (and maybe a stall); `backlynk migrate` drops
#: them and says which projection to rebuild (its tables were at two positions)
MERGED = {"backlink_checks": "backlinks"}


def merged_ddl() -> list[str]:
    """Statements that forget the merged projections' positions and stalls (idempotent;
    after `projections.stalls.DDL`)."""
    out = []
    for old in MERGED:
        out.append(f"DROP TABLE IF EXISTS public.{old}_tracking")
        out.append(f"DELETE FROM projection_stalls WHERE projection = '{old}'")
    return out


async def merged_left(conn: Any) -> dict[str, str]:
    """The merged projections whose tracking table is still there (before the migration
    drops it), each with the projection to rebuild."""
    return {
        old: into
        for old, into in MERGED.items()
        if await conn.fetchval("SELECT to_regclass($1)", f"public.{old}_tracking")
    }


def all_projections(queue: TaskQueue | None = None) -> list[Projection]:
    """The read models and the dispatcher, which enqueues into `queue`. Without a queue
    the list is for reading names, tables and DDL only (status, skip, migrations): the
    dispatcher in it cannot apply an event, and no Redis client is made. The webhook
    outbox, like the dispatcher, is an effect (what was sent), not a rebuildable read model."""
    return [*read_models(), WebhooksProjection(), Dispatcher(queue)]
