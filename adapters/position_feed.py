"""A LISTEN connection whose notifications carry positions in commit order, and the proof
that it has seen every change committed before a given moment.

The writers of a channel give each notification a position that grows in commit order
(`adapters.credential_feed`: the event's notification id; `adapters.read_model_feed`: a
counter taken under a row lock), and keep the latest in a one-row table. Postgres delivers
notifications in commit order, so a feed that has processed position N has seen every
change up to N. A reader that needs "everything committed before my request" reads the
table (a read started after the request arrived) and waits until the feed has reached it
(`reached`). While the feed is not connected, `position` is None: nothing it fed may be
trusted, and every subclass forgets what it fed (`_forget`) when it connects or is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from adapters.listener import Listener

#: how long a reader waits for a feed behind the position it read (normally its
#: notification is on the wire) before it does without, and the feed reconnects
LISTENER_WAIT_S = 1.0


class PositionFeed:
    def __init__(
        self, dsn: str, channel: str, position_sql: str, *, log: logging.Logger, name: str
    ):
        """`position_sql`: the SELECT of the channel's latest committed position."""
        self._position_sql = position_sql
        self._log = log
        #: the last position processed; None: not listening, trust nothing
        self.position: int | None = None
        #: bumped by every notification, connection and loss
        self.epoch = 0
        self._advanced = asyncio.Event()
        #: the highest position notified on this connection before its position was read
        self._early = 0
        self._listener = Listener(
            dsn,
            channel,
            self._notified,
            on_connected=self._connected,
            on_lost=self._lost,
            log=log,
            name=name,
        )

    @property
    def _conn(self) -> asyncpg.Connection | None:
        return self._listener.conn

    # -- what subclasses give ----------------------------------------------------------

    def _take(self, payload: str) -> int:
        """Apply a notification; its position."""
        raise NotImplementedError

    def _forget(self) -> None:
        """Anything may have changed unseen (connected afresh, or lost)."""
        raise NotImplementedError

    # -- the listener ------------------------------------------------------------------

    async def start(self, *, timeout: float = 10.0) -> None:
        self._listener.start()
        with contextlib.suppress(TimeoutError):  # still starting: callers do without
            async with asyncio.timeout(timeout):
                while self.position is None:
                    await self._advanced.wait()

    async def stop(self) -> None:
        await self._listener.stop()
        self._lost()

    async def _connected(self, conn: asyncpg.Connection) -> None:
        # LISTEN first, then the position: a change committed in between is both under
        # the position and delivered, which is harmless
        position = await conn.fetchval(self._position_sql)
        # what was notified before the read and after it was all delivered in order
        self.position = max(position or 0, self._early)
        self._forget()
        self.epoch += 1
        self._wake()

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        position = self._take(payload)
        self.epoch += 1
        if self.position is not None:
            self.position = max(self.position, position)
        else:
            self._early = max(self._early, position)
        self._wake()

    def _lost(self) -> None:
        """Whatever was fed so far may miss a change from now on: drop it all."""
        self.position = None
        self._early = 0
        self._forget()
        self.epoch += 1
        self._wake()

    def _wake(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    def suspect(self) -> None:
        """The listener is behind for too long: reconnect it (and trust nothing until
        then)."""
        self._listener.drop()

    async def caught_up(self, committed: int, timeout: float) -> bool:
        """Wait until the feed has processed every change up to `committed`; False if it
        has not within `timeout` seconds, or is not listening."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.position is not None and self.position < committed:
                    await self._advanced.wait()
        return self.position is not None and self.position >= committed

    async def reached(self, committed: int, timeout: float = LISTENER_WAIT_S) -> bool:
        """Whether the feed has processed every change up to `committed`, waiting at most
        `timeout` seconds for it (normally it is there already, or its notification is on
        the wire). A feed connected yet behind for that long is reconnected."""
        position = self.position
        if position is not None and position >= committed:
            return True
        if await self.caught_up(committed, timeout):
            return True
        if self.position is not None:  # connected, yet behind for too long
            self._log.warning("%s s behind; reconnecting the listener", timeout)
            self.suspect()
        return False
