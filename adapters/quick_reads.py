"""One-statement reads on connections kept out of the pool between them.

asyncpg's `Pool.fetch` costs more CPU than the query it runs: each call acquires through
an `asyncio.Queue`, builds a connection proxy, rearms an inactivity timer and releases
through `asyncio.shield` — a new task per query. Measured with 32 callers on 10
connections (uvloop, load average ~10): `Pool.fetch` 35–38 µs of client CPU per
`SELECT 1`, the same query on a connection taken from a plain list 15–19 µs.

`QuickReads` keeps up to `size` connections acquired from its pool and lends them to
one statement at a time (`fetch`, `fetchrow`, `fetchval`): taking one is a list pop,
giving it back a list append (or a hand-over to the first caller waiting). The pool
stays in charge of everything else:

* a connection found closed when taken (the server restarted, the network dropped) goes
  back to the pool (asyncpg may have done so already), which replaces it, and another is
  taken;
* a statement that raised or was cancelled gives its connection back to the pool
  (which waits out a cancellation and rolls back what is open) rather than to the
  list;
* `size` is at most half the pool, so whatever acquires from the pool itself (commands,
  transactions, reads of several statements) always finds the other half;
* `close()` releases every connection kept, before the pool closes.

Only single statements outside transactions go through here: nothing session-scoped can
be left on a connection by them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import asyncpg


def usable(conn: Any) -> bool:
    """Whether a kept connection is still open: one the server closed is closed, or
    already handed back to the pool by asyncpg itself (its proxy then refuses calls)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


class QuickReads:
    def __init__(self, pool: asyncpg.Pool, size: int):
        self.pool = pool
        self.size = max(0, size)
        self._idle: list[Any] = []
        self._waiting: deque[asyncio.Future[Any]] = deque()
        #: the connections kept (idle or lent), by id
        self._kept: dict[int, Any] = {}
        #: connections kept or being acquired to be kept (never more than `size`)
        self._slots = 0
        self._closed = False

    @classmethod
    def over(cls, pool: asyncpg.Pool) -> QuickReads:
        return cls(pool, pool.get_max_size() // 2)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self._take()
        try:
            rows = await conn.fetch(query, *args)
        except BaseException:
            await self._drop(conn)
            raise
        await self._give(conn)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        conn = await self._take()
        try:
            row = await conn.fetchrow(query, *args)
        except BaseException:
            await self._drop(conn)
            raise
        await self._give(conn)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        conn = await self._take()
        try:
            value = await conn.fetchval(query, *args)
        except BaseException:
            await self._drop(conn)
            raise
        await self._give(conn)
        return value

    async def _take(self) -> Any:
        while True:
            while self._idle:
                conn = self._idle.pop()
                if usable(conn):
                    return conn
                await self._drop(conn)  # the pool replaces it
            if self._closed or self.size == 0:  # the pool's own way
                return await self.pool.acquire()
            if self._slots < self.size:
                self._slots += 1  # taken before the await: callers meanwhile see it taken
                try:
                    conn = await self.pool.acquire()
                except BaseException:
                    self._slots -= 1
                    self._wake_one()
                    raise
                self._kept[id(conn)] = conn
                return conn
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    if waiter.result() is not None:  # handed over as its caller went away
                        await self._give(waiter.result())
                    else:
                        self._wake_one()  # pass the freed slot on
                raise
            if handed is not None:
                return handed
            # None: a slot came free (or the reads are closing): look again

    async def _give(self, conn: Any) -> None:
        if id(conn) not in self._kept:  # the pool's own (no share of it, or closing)
            await self.pool.release(conn)
            return
        if self._closed:
            self._forget(conn)
            await self.pool.release(conn)
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    async def _drop(self, conn: Any) -> None:
        """Back to the pool for good (it cleans up, or replaces a closed one); a caller
        waiting meanwhile then takes the freed slot."""
        if id(conn) in self._kept:
            self._forget(conn)
            self._wake_one()
        await self.pool.release(conn)

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _forget(self, conn: Any) -> None:
        del self._kept[id(conn)]
        self._slots -= 1

    async def close(self) -> None:
        """Every kept connection back to the pool (call before closing the pool); those
        lent at the time go back when their statement is done."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._forget(conn)
            await self.pool.release(conn)
        while self._waiting:  # none will be handed a kept connection: the pool's way
            self._wake_one()
