"""Every read model the projector runs, in one list."""

from __future__ import annotations

from projections.base import Projection


def all_projections() -> list[Projection]:
    return []
