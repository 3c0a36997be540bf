"""Every projection the projector runs, in one list."""

from __future__ import annotations

from adapters.queue import TaskQueue
from adapters.settings import Settings, load
from projections.backlinks import BacklinksProjection
from projections.base import Projection
from projections.dispatcher import Dispatcher
from projections.jobs import JobsProjection
from projections.sites import SitesProjection
from projections.usage import UsageProjection


def read_models() -> list[Projection]:
    return [SitesProjection(), JobsProjection(), UsageProjection(), BacklinksProjection()]


def all_projections(settings: Settings | None = None) -> list[Projection]:
    """The read models and the dispatcher (which enqueues into `settings`' queue; its
    Redis connection is opened on first use)."""
    return [*read_models(), Dispatcher(TaskQueue(settings or load()))]
