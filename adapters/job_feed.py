"""Job changes as they commit, fanned out to the web process's open job streams.

The jobs read model (`projections.jobs`) keeps, on each job row, `event_position`: the
notification id of the last event applied to it. A trigger on that table NOTIFYs
`backlynk_jobs` with the job id and that position whenever the row changes, in the
projector's transaction, so the notification arrives once the change can be read.

`JobFeed` is one LISTEN connection per web process (`adapters.listener`, as the credential
feed). A stream subscribes to one job; a notification wakes the subscribers of that job
only, and records the highest position notified, so a subscriber woken by many
notifications reads the job once. While the listener is disconnected notifications are
lost: on reconnecting every subscriber is woken to read its job again (the position it
has sent tells it whether anything changed). No subscriber ever polls the database.

The streams of one job woken together share one read of it (`SharedReads`).

The number of subscriptions is bounded per process and per account (`TooManyStreams`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from uuid import UUID

import asyncpg

from adapters.listener import Listener
from adapters.shared_reads import SharedReads

log = logging.getLogger("backlynk.streams")

CHANNEL = "backlynk_jobs"


class TooManyStreams(Exception):
    """`scope` is "process" (this web process is full) or "account" (the account is)."""

    def __init__(self, scope: str, limit: int):
        super().__init__(f"{limit} streams are open ({scope})")
        self.scope, self.limit = scope, limit


class Subscription:
    """One stream's interest in one job."""

    def __init__(self, account_id: UUID, job_id: UUID):
        self.account_id, self.job_id = account_id, job_id
        #: the highest position notified for the job
        self.notified = 0
        self._woken = asyncio.Event()

    def wake(self, position: int | None) -> None:
        """`position` None: the listener reconnected, anything may have changed."""
        if position is not None:
            self.notified = max(self.notified, position)
        self._woken.set()

    async def changed(self, timeout: float) -> bool:
        """Wait until woken (True) or `timeout` seconds pass (False). Being woken is
        consumed here: notifications arriving after this returns wake the next call."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._woken.wait()
        woken = self._woken.is_set()
        self._woken.clear()
        return woken


class JobFeed:
    def __init__(self, dsn: str, *, max_streams: int, max_per_account: int):
        self.max_streams = max_streams
        self.max_per_account = max_per_account
        self._by_job: dict[UUID, set[Subscription]] = {}
        self._per_account: Counter[UUID] = Counter()
        self.open = 0
        self.connected = False
        self.reads = SharedReads()
        self._listener = Listener(
            dsn,
            CHANNEL,
            self._notified,
            on_connected=self._connected,
            on_lost=self._lost,
            log=log,
            name="job stream listener",
        )

    def start(self) -> None:
        self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()

    def subscribe(self, account_id: UUID, job_id: UUID) -> Subscription:
        if self.open >= self.max_streams:
            raise TooManyStreams("process", self.max_streams)
        if self._per_account[account_id] >= self.max_per_account:
            raise TooManyStreams("account", self.max_per_account)
        sub = Subscription(account_id, job_id)
        self._by_job.setdefault(job_id, set()).add(sub)
        self._per_account[account_id] += 1
        self.open += 1
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._by_job.get(sub.job_id)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if not subs:
            del self._by_job[sub.job_id]
        self._per_account[sub.account_id] -= 1
        if not self._per_account[sub.account_id]:
            del self._per_account[sub.account_id]
        self.open -= 1

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        job, _, position = payload.partition(" ")
        subs = self._by_job.get(UUID(job))
        if subs:
            for sub in subs:
                sub.wake(int(position))

    async def _connected(self, conn: asyncpg.Connection) -> None:
        self.connected = True
        for subs in self._by_job.values():
            for sub in subs:
                sub.wake(None)

    def _lost(self) -> None:
        self.connected = False
