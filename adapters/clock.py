"""The one clock: timezone-aware UTC now."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Implements `domain.ports.Clock`."""

    def now(self) -> datetime:
        return datetime.now(UTC)
