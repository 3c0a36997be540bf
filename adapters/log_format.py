"""How every Backlynk process logs: one line per record, the message alone (the access
log and the other JSON lines carry their own fields), to stderr."""

from __future__ import annotations

import logging
import sys


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    # the format shows none of these, and each costs every record (the web process writes
    # one per request): the caller's frame, thread and process names (the logging HOWTO's
    # "Optimization" section)
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
