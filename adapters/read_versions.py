"""Where the credentials and the read models stand, read once per moment by every request
of that moment.

One statement reads the two positions the web process's listeners are compared with: the
latest credential event committed (`adapters.credential_feed`) and the latest read model
change told (`adapters.read_model_feed`). Reads are shared as `SharedReads` shares them:
the callers asking at once share one read, always one that *started after they asked*,
and reads start at most once a millisecond. A caller that only needs "a read started after
instant t" (`since`) takes the latest one if it started after t, without waiting: the
credential check of a request has usually just made it.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from adapters.credential_feed import POSITION_SQL as CREDENTIAL_POSITION_SQL
from adapters.read_model_feed import POSITION_SQL as READ_MODEL_POSITION_SQL
from adapters.shared_reads import POSITION_PACE, SharedReads

_SQL = f"SELECT ({CREDENTIAL_POSITION_SQL}), ({READ_MODEL_POSITION_SQL})"


class Versions(NamedTuple):
    """One read: the two positions."""

    credential: int
    read_models: int
    #: `time.monotonic()` when the read was sent
    started: float


class ReadVersions:
    def __init__(self, pool: Any):
        """`pool`: the primary's (its `fetchrow`)."""
        self._pool = pool
        self._reads = SharedReads(pace=POSITION_PACE)
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
        row = await self._pool.fetchrow(_SQL)
        versions = Versions(row[0], row[1], started)
        if self.latest is None or started >= self.latest.started:
            self.latest = versions
        return versions
