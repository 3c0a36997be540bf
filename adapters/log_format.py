"""How every Backlynk process logs: one line per record, the message alone (the access
log and the other JSON lines carry their own fields), to stderr.

The web process writes one access-log line per request, and `logging` spent ~5 µs on it
(a `LogRecord` of ~20 attributes, the handler chain, the formatter, two lock rounds)
before the line's `write`. `line_writer` gives a logger's caller the shortcut: when what
`logger.info(message)` would do is only to hand the record to the one `LineHandler` that
`configure_logging` installed (no filter on the logger, no other handler on its way up, the
plain format), the line is written to that handler's stream directly — the same bytes,
under the same lock, flushed the same way. Anything else configured (a test's `caplog`
handler, a filter, another format) turns the shortcut off, and the record goes through
`logging` as before.

Lines written by the shortcut while an event loop runs are written together at the loop's
next turn: one `write` (a system call, and a file's inode update) for all the requests
that ended in one turn, not one each — under load, 32 requests' lines cost one call.
Anything else the handler writes (a record through `logging`, a `flush`, the flush at
exit) writes what is pending first, so the lines stay in the order they were given."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

#: the only format `line_writer` writes for: the message alone
PLAIN = "%(message)s"


class LineHandler(logging.StreamHandler):
    """The stream handler `configure_logging` installs."""

    def __init__(self, stream: object = None) -> None:
        super().__init__(stream)  # type: ignore[arg-type]
        #: lines given to `write_line` during this turn of the event loop, not written yet
        self._pending: list[str] = []

    def write_line(self, message: str) -> None:
        """`message` as `emit` writes a record of it with the plain format: at once outside
        an event loop, else at the loop's next turn with the other lines of this one."""
        self.acquire()
        try:
            if self._pending:  # a write is already due
                self._pending.append(message)
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._write([message])
                return
            self._pending.append(message)
            loop.call_soon(self.write_pending)
        finally:
            self.release()

    def write_pending(self) -> None:
        self.acquire()
        try:
            lines, self._pending = self._pending, []
            if lines:
                self._write(lines)
        finally:
            self.release()

    def _write(self, lines: list[str]) -> None:
        try:
            self.stream.write("".join([line + self.terminator for line in lines]))
            self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "\n".join(lines)}))

    def emit(self, record: logging.LogRecord) -> None:
        self.write_pending()  # the lines given before this record go first
        super().emit(record)

    def flush(self) -> None:
        self.write_pending()
        super().flush()


def line_writer(logger: logging.Logger, level: int) -> Callable[[str], None] | None:
    """A callable that writes a message exactly as `logger.log(level, message)` would
    (no arguments, no exception), or None when logging would do more than that or other
    than that: the level disabled, a filter on the logger, no handler or more than one
    on the logger's way to the root, or one that is not a plain `LineHandler`."""
    if logger.disabled or logger.filters or not logger.isEnabledFor(level):
        return None
    found: LineHandler | None = None
    seen = 0
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            seen += 1
            found = handler  # type: ignore[assignment]
        if not current.propagate:
            break
        current = current.parent
    if seen != 1 or type(found) is not LineHandler:
        return None
    formatter = found.formatter
    if (
        found.filters
        or level < found.level
        or type(formatter) is not logging.Formatter
        or formatter._fmt != PLAIN  # type: ignore[union-attr]
        or type(formatter._style) is not logging.PercentStyle  # type: ignore[union-attr]
    ):
        return None
    return found.write_line


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=PLAIN, handlers=[LineHandler(sys.stderr)])
    # the format shows none of these, and each costs every record (the web process writes
    # one per request): the caller's frame, thread and process names (the logging HOWTO's
    # "Optimization" section)
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
