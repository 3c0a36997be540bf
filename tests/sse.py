"""A Server-Sent Events reader over an aiohttp response, for the job stream tests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

#: no step of a stream test waits this long unless something is broken (not a bound on speed)
PATIENCE_S = 60


@dataclass
class Message:
    id: int
    event: str
    data: Any


class EventStream:
    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response

    async def next(self) -> Message | None:
        """The next event, or None when the server has ended the stream."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(PATIENCE_S):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    return None
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    continue  # a heartbeat
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                elif "data" in fields:
                    return Message(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                else:
                    fields = {}  # a block without data (retry:) is not an event

    async def until(self, done: Any) -> list[Message]:
        """Events up to and including the first for which `done(message)` holds."""
        seen = []
        while True:
            message = await self.next()
            assert message is not None, f"stream ended before the awaited state: {seen}"
            seen.append(message)
            if done(message):
                return seen
