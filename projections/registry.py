"""Every read model the projector runs, in one list."""

from __future__ import annotations

from projections.base import Projection
from projections.jobs import JobsProjection
from projections.sites import SitesProjection
from projections.usage import UsageProjection


def all_projections() -> list[Projection]:
    return [SitesProjection(), JobsProjection(), UsageProjection()]
