"""The app as the checker tests serve it."""

from __future__ import annotations

from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure
from adapters.settings import Settings


def checker_app(settings: Settings, infra: Infrastructure, fetcher: Fetcher):
    """The app with the checker tests' fetcher (it trusts the test CA) and no projector.
    With no projector the read models never catch up: a sign-up answers at once from the
    account it saved instead of waiting for them."""
    import msgspec

    from api.app import create_app

    infra.fetcher = fetcher
    unwaited = msgspec.structs.replace(settings, read_your_writes_wait=0)
    return create_app(unwaited, infra=infra, in_process_projector=False)
