"""One LISTEN connection per process and channel, kept alive: the part that the
credential feed (`adapters.credential_feed`) and the job feed (`adapters.job_feed`)
share.

It connects, LISTENs, then runs `on_connected(conn)` (typically: read a position, which
is then no older than anything delivered afterwards), and watches the connection: a
silence of `KEEPALIVE_S` is checked with a query, a lost connection is reported through
`on_lost()` and replaced after `RECONNECT_S`. Notifications sent while it was not
connected are not delivered, so whoever relies on them must treat `on_lost()` as "anything
may have changed" and re-read on the next `on_connected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

#: how long the connection may stay silent before it is checked
KEEPALIVE_S = 5.0
RECONNECT_S = 0.5

Notified = Callable[[object, int, str, str], None]


class Listener:
    def __init__(
        self,
        dsn: str,
        channel: str,
        on_notify: Notified,
        *,
        on_connected: Callable[[asyncpg.Connection], Awaitable[None]],
        on_lost: Callable[[], None],
        log: logging.Logger,
        name: str,
    ):
        self._dsn = dsn
        self._channel = channel
        self._on_notify = on_notify
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._log = log
        self._name = name
        #: the live connection, once `on_connected` has run on it
        self.conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def drop(self) -> None:
        """Give up the current connection (it is replaced; `on_lost` runs now)."""
        conn = self.conn
        self._lost()
        if conn is not None:
            conn.terminate()

    def _lost(self) -> None:
        self.conn = None
        self._on_lost()

    async def _listen_forever(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn)
                gone = asyncio.Event()
                conn.add_termination_listener(lambda _, gone=gone: gone.set())
                await conn.add_listener(self._channel, self._on_notify)
                await self._on_connected(conn)
                self.conn = conn
                while not gone.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(KEEPALIVE_S):
                            await gone.wait()
                    if not gone.is_set():
                        async with asyncio.timeout(KEEPALIVE_S):
                            await conn.fetchval("SELECT 1")
                self._log.warning("%s lost its connection; reconnecting", self._name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log.warning("%s failed (%r); reconnecting", self._name, exc)
            finally:
                self._lost()
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(RECONNECT_S)
