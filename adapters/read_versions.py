"""Where the read models stand, read once per moment by every request of that moment.

One statement reads the credential position (`adapters.credential_feed`), a version of
each read model, and the directory catalogue's version. A read model's version is its
tracking row's `changed_in`: the id of the last transaction that changed its tables (a
batch with events of its topics, a reset, a rebuild's swap), written in that transaction
(`projections.base`). Unlike the position it does not move when the projection only
passes other topics' events, and unlike the position it never comes back (a rebuild
passes through old positions again; transaction ids only grow). The catalogue, written by
`directories import` and not by the projector, is versioned the same way by a statement
trigger on its table (`adapters.directories`).

Reads are shared as `SharedReads` shares them: the callers asking at once share one read,
always one that *started after they asked*, and reads start at most once a millisecond. A
caller that only needs "a read started after instant t" (`since`) takes the latest one if
it started after t, without waiting: the credential check of a request has usually just
made it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from adapters.directories import VERSION_TABLE as CATALOGUE_VERSION_TABLE
from adapters.event_store import APPLICATION_NAME
from adapters.shared_reads import SharedReads

CATALOGUE = "directories"
#: at most one versions read per millisecond per process (`SharedReads`' pace): under load
#: each serves the requests of a whole millisecond instead of the one or two that came
#: during the read before, and a request waits at most that much more
PACE = 0.001


class Versions(NamedTuple):
    """One read: the credential position and each read model's version (None where its
    table is missing), by name."""

    credential: int
    models: dict[str, int | None]
    #: `time.monotonic()` when the read was sent
    started: float


class ReadVersions:
    def __init__(self, pool: Any, tracking_tables: Sequence[tuple[str, str]], position_sql: str):
        """`pool`: the primary's (its `fetchrow`); `tracking_tables`: (read model name,
        its tracking table); `position_sql`: the credential position's SELECT."""
        self._pool = pool
        self._names = [name for name, _ in tracking_tables] + [CATALOGUE]
        columns = [f"({position_sql})"]
        columns += [
            f"(SELECT changed_in FROM public.{table} WHERE application_name = $1)"
            for _, table in tracking_tables
        ]
        columns.append(f"(SELECT version FROM public.{CATALOGUE_VERSION_TABLE})")
        self._sql = "SELECT " + ", ".join(columns)
        self._reads = SharedReads(pace=PACE)
        self.latest: Versions | None = None

    async def read(self) -> Versions:
        """A read started after this call (shared with the callers asking meanwhile)."""
        versions: Versions = await self._reads.read("versions", self._load)
        return versions

    async def since(self, instant: float) -> Versions:
        """A read started at `instant` (`time.monotonic()`) or later: the latest one if
        it did, else a new one."""
        latest = self.latest
        if latest is not None and latest.started >= instant:
            return latest
        return await self.read()

    async def _load(self) -> Versions:
        started = time.monotonic()
        row = await self._pool.fetchrow(self._sql, APPLICATION_NAME)
        versions = Versions(row[0] or 0, dict(zip(self._names, row[1:], strict=True)), started)
        if self.latest is None or started >= self.latest.started:
            self.latest = versions
        return versions
