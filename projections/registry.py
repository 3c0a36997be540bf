"""Every projection the projector runs, in one list."""

from __future__ import annotations

from adapters.queue import TaskQueue
from projections.accounts import AccountsProjection
from projections.api_keys import ApiKeysProjection
from projections.audit import AuditProjection
from projections.backlink_checks import BacklinkChecksProjection
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
        BacklinkChecksProjection(),
        AuditProjection(),
        ReportsProjection(),
    ]


def all_projections(queue: TaskQueue | None = None) -> list[Projection]:
    """The read models and the dispatcher, which enqueues into `queue`. Without a queue
    the list is for reading names, tables and DDL only (status, skip, migrations): the
    dispatcher in it cannot apply an event, and no Redis client is made. The webhook
    outbox, like the dispatcher, is an effect (what was sent), not a rebuildable read model."""
    return [*read_models(), WebhooksProjection(), Dispatcher(queue)]
