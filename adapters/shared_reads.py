"""Reads shared by the callers that ask at once: the job streams woken together, and every
request checking the credential position and the read models' versions
(`credential_feed`, `read_versions`)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

#: the pace of the position reads every request makes (`credential_feed`, `read_versions`):
#: at most one per millisecond per process. Under load each serves the requests of a whole
#: millisecond instead of the one or two that came during the read before, and a request
#: waits at most that much more
POSITION_PACE = 0.001


class SharedReads:
    """Reads by key: the callers asking for one key at once share one read, always one
    that *started after they asked* (so it shows every change notified before), as the
    credential feed's position read needs."""

    def __init__(self, pace: float = 0.0) -> None:
        """`pace`: the least time (s) from the start of one read of a key to the start of
        the next. Under load reads would otherwise follow each other back to back, each
        for the one or two callers that came during the one before; paced, each serves
        those of a whole interval, and a caller waits at most `pace` more. A caller that
        asks after a quiet spell is read for at once."""
        self._pace = pace
        self._waiting: dict[Hashable, list[asyncio.Future[Any]]] = {}
        self._reading: set[Hashable] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: when the last read of each key started (the loop's clock)
        self._started: dict[Hashable, float] = {}

    async def read(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._waiting.setdefault(key, []).append(answer)
        if key not in self._reading:
            self._reading.add(key)
            task = loop.create_task(self._rounds(key, load))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await answer

    async def _rounds(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting.get(key):
                if self._pace:
                    early = self._started.get(key, -math.inf) + self._pace - loop.time()
                    if early > 0:
                        await asyncio.sleep(early)  # callers still join this round
                    self._started[key] = loop.time()
                waiting = self._waiting.pop(key)
                try:
                    value = await load()
                except Exception as exc:
                    for answer in waiting:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                for answer in waiting:
                    if not answer.done():  # its caller may have gone away
                        answer.set_result(value)
        finally:
            self._reading.discard(key)
