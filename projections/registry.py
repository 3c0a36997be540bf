"""Every read model the projector runs, in one list."""

from __future__ import annotations

from projections.accounts import AccountsProjection
from projections.api_keys import ApiKeysProjection
from projections.backlinks import BacklinksProjection
from projections.base import Projection
from projections.jobs import JobsProjection
from projections.sites import SitesProjection
from projections.usage import UsageProjection


def all_projections() -> list[Projection]:
    return [
        AccountsProjection(),
        ApiKeysProjection(),
        SitesProjection(),
        JobsProjection(),
        UsageProjection(),
        BacklinksProjection(),
    ]
