"""Reads shared by the callers that ask at once: the job streams woken together, and every
request checking the credential position (`credential_feed`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


class SharedReads:
    """Reads by key: the callers asking for one key at once share one read, always one
    that *started after they asked* (so it shows every change notified before), as the
    credential feed's position read needs."""

    def __init__(self) -> None:
        self._waiting: dict[Hashable, list[asyncio.Future[Any]]] = {}
        self._reading: set[Hashable] = set()
        self._tasks: set[asyncio.Task[None]] = set()

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
        try:
            while waiting := self._waiting.pop(key, None):
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
