"""The app as the checker tests serve it."""

from __future__ import annotations

from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure
from adapters.settings import Settings


def checker_app(settings: Settings, infra: Infrastructure, fetcher: Fetcher):
    """The app with the checker tests' fetcher (it trusts the test CA) and no projector."""
    from api.app import create_app

    infra.fetcher = fetcher
    return create_app(settings, infra=infra, in_process_projector=False)
