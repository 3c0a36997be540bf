"""Repeated reads answered from the web process's memory while nothing they show has
changed — checked on every request, never by a time-to-live.

A route that opts in (`Operation.cached`) names the read models its answer is made of. Its
200 answers are kept per (path, query, account, plan, what `vary` adds), tagged with where
those models stood for that account, or for the one resource the answer shows
(`adapters.read_model_feed`: every change to them is told to each web process, with the
aggregates and the accounts whose rows it wrote), when the answer's own reads began. A
later request is answered from memory only if, once the process's listener has reached a
position read after the request arrived, the tag is still the same: then no change to
those models for that account (or resource) committed between the answer's reads and this
request, so a fresh read would give the same answer. The position is read by the
statement the request's credential check makes anyway (`adapters.read_versions`), shared
by the requests of the same moment, so a hit costs no round trip of its own. One
account's changes leave the answers kept for the others standing, and one job's changes
those kept of the account's other jobs.

The caller is authenticated first, as always: a revoked key, an ended session or a plan
without API access is refused before the cache is looked at, and an answer is only ever
given to the account (and plan) it was made for. Writes stay read-your-writes: a command
answers once the read models show it, so its change was told before the next read.

The catalogue's answers, the same for every account on a plan, are kept once per plan.

Not kept: answers other than 200, streamed ones (CSV), `?as_of=` (rebuilt from the event
store, not the read models), answers over an eighth of the budget. When the budget
(`BACKLYNK_READ_CACHE_MB`) is spent the oldest answers go first. Without a cache (0 MB)
or while reads go to a replica (whose models may trail the primary's changes), every
request reads; while the listener is not connected (or behind for a second) too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

from starlette.requests import Request
from starlette.responses import Response

from adapters import metrics
from adapters.read_model_feed import ReadModelFeed
from adapters.read_versions import ReadVersions
from api.csv_export import wants_csv
from domain import ids
from domain.services.authentication import Principal

Endpoint = Callable[[Request], Any]
Authorize = Callable[[Request], Any]

#: outcome -> its counter, made at first use: a value made at import would open the
#: process's metrics file before `adapters.metrics` clears the directory at start-up, and
#: every count of the process would then go to the file it removed
_counters: dict[str, Any] = {}


def _count(outcome: str) -> None:
    counter = _counters.get(outcome)
    if counter is None:
        counter = _counters[outcome] = metrics.READ_CACHE.labels(outcome)
    counter.inc()


@dataclass(frozen=True)
class Cached:
    """How an operation's answers may be kept: the read models they are made of (names of
    projections that tell their changes, or `directories` for the catalogue: checked by
    `api.app.check_cached_models`), and what else they vary with besides
    path, query, account and plan (e.g. the month, for usage)."""

    models: tuple[str, ...]
    vary: Callable[[Request], Hashable] | None = None
    #: for one resource: its id's type and path parameter (`domain.ids`), e.g. ("job",
    #: "job_id"). Its answer is then kept until that aggregate's rows change, not the
    #: account's: polling one job is not disturbed by the account's other jobs
    entity: tuple[str, str] | None = None
    #: the answer is the same for every account on a plan (the catalogue): kept once per
    #: plan, not per account. Only for models whose changes are told for every account
    #: (`api.app.check_cached_models`)
    shared: bool = False


class _Entry(NamedTuple):
    tag: tuple[int, ...]
    response: Response
    size: int


class ReadCache:
    def __init__(self, versions: ReadVersions, feed: ReadModelFeed, max_bytes: int):
        self.versions = versions
        self.feed = feed
        self.max_bytes = max_bytes
        self.max_entry = max_bytes // 8
        self._entries: dict[Hashable, _Entry] = {}
        self._bytes = 0

    def get(self, key: Hashable, tag: tuple[int, ...]) -> Response | None:
        entry = self._entries.get(key)
        if entry is None or entry.tag != tag:
            return None
        return entry.response

    def keep(self, key: Hashable, tag: tuple[int, ...], response: Response) -> bool:
        """Keep `response` if it may be given again; whether it was kept."""
        if type(response) is not Response or response.status_code != 200:
            return False
        size = len(response.body) + 200 * len(response.raw_headers) + 200
        if size > self.max_entry:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        while self._entries and self._bytes + size > self.max_bytes:
            oldest = next(iter(self._entries))
            self._bytes -= self._entries.pop(oldest).size
        self._entries[key] = _Entry(tag, response, size)
        self._bytes += size
        return True


def cached_endpoint(
    handler: Endpoint, authorize: Authorize, rule: Cached, *, csv: bool = False
) -> Endpoint:
    """`handler`, answering from the app's `read_cache` when it can. `authorize` is the
    check the handler starts with (`api.auth.require_account` or `require_api_access`):
    made first, so nothing is answered to a caller the handler would refuse."""
    models = rule.models
    vary = rule.vary
    entity = rule.entity
    shared = rule.shared

    async def endpoint(request: Request) -> Response:
        cache: ReadCache | None = request.app.state.read_cache
        scope = request.scope
        query: bytes = scope["query_string"]
        if cache is None or b"as_of=" in query or (csv and wants_csv(request)):
            if cache is not None:
                _count("bypass")
            response: Response = await handler(request)
            return response
        arrived = time.monotonic()
        principal: Principal = await authorize(request)
        feed = cache.feed
        try:
            versions = await cache.versions.since(arrived)
            current = await feed.reached(versions.read_models)
        except Exception:  # the handler's own reads answer (or fail) instead
            current = False
        if not current:
            _count("bypass")
            response = await handler(request)
            return response
        aggregate = None
        if entity is not None:
            aggregate = ids.decode(entity[0], request.path_params[entity[1]])
        tag = feed.tag(models, principal.account_id, aggregate)
        key = (
            scope["path"],
            query,
            None if shared else principal.account_id,
            principal.plan.code,
            vary(request) if vary is not None else None,
        )
        kept = cache.get(key, tag)
        if kept is not None:
            _count("hit")
            return kept
        try:
            response = await handler(request)
        except BaseException:  # an error answer (NotFound...): nothing to keep
            _count("bypass")
            raise
        _count("miss" if cache.keep(key, tag, response) else "bypass")
        return response

    return endpoint
