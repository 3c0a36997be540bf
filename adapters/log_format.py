"""How every Backlynk process logs: one line per record, the message alone (the access
log and the other JSON lines carry their own fields), to stderr.

The web process writes one access-log line per request, and `logging` spent ~5 µs on it
(a `LogRecord` of ~20 attributes, the handler chain, the formatter, two lock rounds)
before the line's `write`. `line_writer` gives a logger's caller the shortcut: when what
`logger.info(message)` would do is only to hand the record to the one `LineHandler` that
`configure_logging` installed (no filter on the logger, no other handler on its way up, the
plain format), the line is written to that handler's stream directly — the same bytes,
under the same lock, flushed the same way; and several lines in one `write` (the access
log writes those of the requests answered in one turn of the event loop together:
`api.request_log`). Anything else configured (a test's `caplog` handler, a filter,
another format) turns the shortcut off, and the records go through `logging` as before."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

#: the only format `line_writer` writes for: the message alone
PLAIN = "%(message)s"


class LineHandler(logging.StreamHandler):
    """The stream handler `configure_logging` installs."""

    def write_lines(self, messages: list[str]) -> None:
        """`messages` as `emit` writes a record of each with the plain format, in one
        `write`."""
        self.acquire()
        try:
            self.stream.write("".join([message + self.terminator for message in messages]))
            self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": self.terminator.join(messages)}))
        finally:
            self.release()


def line_writer(logger: logging.Logger, level: int) -> Callable[[list[str]], None] | None:
    """A callable that writes messages exactly as `logger.log(level, message)` of each
    would (no arguments, no exception), or None when logging would do more than that or
    other than that: the level disabled, a filter on the logger, no handler or more than one
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
    return found.write_lines


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=PLAIN, handlers=[LineHandler(sys.stderr)])
    # the format shows none of these, and each costs every record (the web process writes
    # one per request): the caller's frame, thread and process names (the logging HOWTO's
    # "Optimization" section)
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
