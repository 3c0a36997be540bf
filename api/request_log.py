"""What `api.middleware.Edge` records of each request once it is answered — its line in
the access log and its count in /metrics (`api.metrics.count_requests`) — done for all
the requests answered in one turn of the event loop together, at the start of the next.

Done per request, the two cost a read-cache hit about a fifth of its CPU
(`bench/inproc_hits.py`): a walk to the log's handler, a locked `write` and four locked
counter updates, for every request. Per turn, one walk, one `write` and one update per
counter serve every request of the turn (up to all 32 of a loaded process's connections).
Nothing waits longer than the turn: the lines and the counts are there before the process
reads another request. Outside a running event loop, each is recorded at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NamedTuple

import msgspec

from adapters.log_format import line_writer
from api import metrics

access_log = logging.getLogger("backlynk.access")
_encode = msgspec.json.Encoder().encode


class Answered(NamedTuple):
    request_id: str
    method: str
    #: as the client sent it (before `Edge` dropped a trailing slash)
    path: str
    status: int
    seconds: float
    #: the ASGI scope's `client`: (host, port), or None
    client: tuple[str, int] | None
    #: the route Starlette's router matched (`scope["route"]`), if any
    route: Any


class RequestLog:
    """The requests one app answered in this turn of its event loop, not recorded yet."""

    def __init__(self) -> None:
        self._pending: list[Answered] = []

    def add(self, answered: Answered) -> None:
        if not self._pending:
            try:
                asyncio.get_running_loop().call_soon(self.record_pending)
            except RuntimeError:  # no loop: at once
                self._pending.append(answered)
                self.record_pending()
                return
        self._pending.append(answered)

    def record_pending(self) -> None:
        answered, self._pending = self._pending, []
        if not answered:
            return
        metrics.count_requests(
            (getattr(a.route, "path", None), a.method, a.status, a.seconds) for a in answered
        )
        # written directly when logging would do nothing else (`line_writer`)
        write = line_writer(access_log, logging.INFO)
        if write is None and not access_log.isEnabledFor(logging.INFO):
            return
        lines = [
            _encode(
                {
                    "request_id": a.request_id,
                    "method": a.method,
                    "path": a.path,
                    "status": a.status,
                    "duration_ms": round(a.seconds * 1000, 2),
                    "client": (a.client or ("", 0))[0],
                }
            ).decode()
            for a in answered
        ]
        if write is not None:
            write(lines)
        else:
            for line in lines:
                access_log.info(line)
