"""Prometheus instruments of every process, and the exposition that `/metrics` serves.

Web, worker and projector are separate processes (and the web may run several): with
`PROMETHEUS_MULTIPROC_DIR` set, prometheus-client keeps each process's values in memory-
mapped files in that directory and the scraping web process adds them all up. The variable
must be set before the process starts (prometheus-client reads it at import), and the
processes that share the directory must share a host (files are named by process id).

Every instrument here has labels, so no value file is opened at import: `prepare_directory`
runs first, at process start.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "backlynk_http_requests",
    "HTTP requests answered, by route template (never the raw path), method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "backlynk_http_request_duration_seconds",
    "Time from request to the end of the answer, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
READ_CACHE = Counter(
    "backlynk_read_cache",
    "Reads of the routes a web process may answer again (`api.read_cache`), by outcome: "
    "hit (answered from memory, nothing it shows had changed), miss (read, then kept), "
    "bypass (not kept: as_of, CSV, an answer other than 200, a versions read that failed).",
    ["outcome"],
)
SUBMISSIONS = Counter(
    "backlynk_submissions",
    "Submission attempts sent to a directory, by outcome (submitted, failed, retry_later) "
    "and error code (empty when submitted).",
    ["outcome", "code"],
)
VERIFICATIONS = Counter(
    "backlynk_verifications",
    "Looks for a submitted listing, by outcome (verified, not_yet, listing_not_found, "
    "nothing_to_do).",
    ["outcome"],
)
RECHECKS = Counter(
    "backlynk_backlink_rechecks",
    "Backlink checks by the workers (re-checks, first checks of added links), by outcome: "
    "found, missing (page without the link, or 404/410) or unreachable.",
    ["outcome"],
)
CHECKER_FETCHES = Counter(
    "backlynk_checker_fetches",
    "Pages fetched by the checker's fetcher (backlink checks, listing verification, "
    "re-checks, site landing pages), by outcome: ok (2xx), http_error (another status) or "
    "the fetch error code (timeout, dns_error, blocked_address, too_large, ...).",
    ["outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "backlynk_webhook_deliveries",
    "Webhook delivery tries, by result: delivered (2xx), retry (no answer or another "
    "status, tried again later) or failed (the last try of its 24 h).",
    ["result"],
)


def multiprocess_directory() -> str | None:
    return os.environ.get(DIRECTORY_VARIABLE) or None


def _pid(path: str) -> int | None:
    """`counter_123.db`, `gauge_all_123.db` -> 123."""
    tail = os.path.basename(path).removesuffix(".db").rpartition("_")[2]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():  # our own pid before we wrote: a reused pid's file
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_directory() -> None:
    """Create the multiprocess directory; empty it when every process that wrote there has
    ended (a fresh start of the service). While any writer lives, nothing is removed: the
    values of a process that died stay in the sums, so no counter goes backwards while the
    service runs (Prometheus reads a complete restart as the reset it is)."""
    path = multiprocess_directory()
    if path is None:
        return
    os.makedirs(path, exist_ok=True)
    files = glob.glob(os.path.join(path, "*.db"))
    if any(_alive(_pid(f)) for f in files):
        return
    for f in files:
        try:
            os.remove(f)
        except FileNotFoundError:
            pass  # another process starting at the same moment removed it


class _Fixed:
    """A collector that yields metric families computed beforehand."""

    def __init__(self, families: Iterable[Metric]):
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(scraped: Iterable[Metric] = ()) -> bytes:
    """The text exposition: every process's instruments (this process's alone without a
    multiprocess directory) and the families `scraped` at this request."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_directory():
        MultiProcessCollector(registry)
    else:
        registry.register(_Fixed(REGISTRY.collect()))
    registry.register(_Fixed(scraped))
    return generate_latest(registry)


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
