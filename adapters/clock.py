"""The one clock: timezone-aware UTC now (implements `domain.ports.Clock`)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
