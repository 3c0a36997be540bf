"""The web process's cache of credentials, current to every request.

A request is answered from the cache only when the process's credential listener
(`adapters.credential_feed`) has processed every credential event committed before the
request arrived: the request reads the shared position (one cheap query, shared by the
requests of that moment, started after this one arrived) and compares. So a client that
is told "revoked" by one process and at once calls another is refused there too, even if
that process's NOTIFY is still on the wire: the other process waits for its listener
(normally already there), and after `LISTENER_WAIT_S` reads the event store instead and
reconnects its listener. While the listener is not connected, the cache is empty and
unused. No time-to-live is involved anywhere.

An entry loaded while any credential event was being processed is not kept: it might
predate that event and miss its eviction. Entries are evicted by the aggregate (session,
key or account) whose event the listener processed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from uuid import UUID

import asyncpg

from adapters.credential_feed import EVERYTHING, CredentialFeed
from adapters.infrastructure import Infrastructure
from adapters.position_feed import LISTENER_WAIT_S
from adapters.read_versions import ReadVersions
from domain.credentials import CredentialRecord
from domain.ports import Credentials
from domain.services.authentication import StoreCredentials

MAX_ENTRIES = 100_000


class CachedCredentials:
    """Implements `domain.ports.Credentials` in front of `store` (the event store)."""

    def __init__(self, store: Credentials, dsn: str, versions: ReadVersions):
        """`dsn` and `versions` (the process's shared read of the positions,
        `adapters.read_versions`): the primary's (a replica has neither the NOTIFY nor,
        at once, the position)."""
        self.store = store
        self.feed = CredentialFeed(dsn, versions, self._changed)
        self._entries: dict[Hashable, CredentialRecord] = {}
        #: aggregate id -> the entries built from it
        self._built_from: dict[UUID, set[Hashable]] = {}

    @classmethod
    async def start_for(
        cls, infra: Infrastructure, versions: ReadVersions | None = None
    ) -> CachedCredentials:
        cache = cls(
            StoreCredentials(infra.repository),
            infra.settings.database_url,
            versions or ReadVersions(infra.primary_reads),
        )
        await cache.feed.start()
        return cache

    async def stop(self) -> None:
        await self.feed.stop()

    async def by_session(self, session_id: UUID) -> CredentialRecord | None:
        return await self._lookup(("session", session_id), self.store.by_session, session_id)

    async def by_api_key_hash(self, key_hash: str) -> CredentialRecord | None:
        return await self._lookup(("key", key_hash), self.store.by_api_key_hash, key_hash)

    async def _lookup(
        self, entry: Hashable, load: Callable[[Any], Awaitable[CredentialRecord | None]], arg: Any
    ) -> CredentialRecord | None:
        if not await self._current():
            return await load(arg)
        found = self._entries.get(entry)  # no await since _current(): still current
        if found is not None:
            return found
        epoch = self.feed.epoch
        record = await load(arg)
        if record is not None and self.feed.epoch == epoch and self.feed.position is not None:
            self._keep(entry, record)
        return record

    async def _current(self) -> bool:
        """Whether the cache holds every credential event committed before now."""
        if self.feed.position is None:
            return False
        try:
            committed = await self.feed.committed()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False  # the event store answers (or fails) instead
        return await self.feed.reached(committed, LISTENER_WAIT_S)

    def _keep(self, entry: Hashable, record: CredentialRecord) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._changed(EVERYTHING)
        self._entries[entry] = record
        for aggregate in (record.id, record.account.id):
            self._built_from.setdefault(aggregate, set()).add(entry)

    def _changed(self, aggregate: UUID) -> None:
        if aggregate == EVERYTHING:
            self._entries.clear()
            self._built_from.clear()
            return
        for entry in self._built_from.pop(aggregate, ()):
            self._entries.pop(entry, None)
