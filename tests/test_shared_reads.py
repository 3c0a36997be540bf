"""`SharedReads`: callers asking at once share one read, always one that started after
they asked; paced, reads of a key start at least `pace` apart."""

from __future__ import annotations

import asyncio

import pytest

from adapters.shared_reads import SharedReads


class Source:
    """A value that callers may change at any time, and a read of it that takes a while:
    each read answers (when it started, the value then)."""

    def __init__(self) -> None:
        self.value = 0
        self.starts: list[float] = []
        self.release = asyncio.Event()

    async def load(self) -> tuple[float, int]:
        started = asyncio.get_running_loop().time()
        self.starts.append(started)
        value = self.value
        await self.release.wait()
        return started, value


@pytest.mark.parametrize("pace", [0.0, 0.02])
async def test_a_caller_gets_a_read_that_started_after_it_asked(pace) -> None:
    reads, source = SharedReads(pace=pace), Source()
    loop = asyncio.get_running_loop()
    first = [asyncio.create_task(reads.read("k", source.load)) for _ in range(5)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(source.starts) == 1  # the five share one read
    # asked while that read is in flight, after a change it cannot have seen
    source.value = 1
    asked = loop.time()
    later = [asyncio.create_task(reads.read("k", source.load)) for _ in range(3)]
    source.release.set()
    answers = await asyncio.gather(*first)
    assert {value for _, value in answers} == {0}
    later_answers = await asyncio.gather(*later)
    assert all(started >= asked and value == 1 for started, value in later_answers)
    assert len(source.starts) == 2
    if pace:
        assert source.starts[1] - source.starts[0] >= pace * 0.99


async def test_paced_reads_serve_every_caller_of_the_interval_with_one_read() -> None:
    reads, source = SharedReads(pace=0.05), Source()
    source.release.set()
    await reads.read("k", source.load)  # a read has just started: the next one waits
    loop = asyncio.get_running_loop()
    callers = []
    for _ in range(10):
        callers.append((loop.time(), asyncio.create_task(reads.read("k", source.load))))
        await asyncio.sleep(0.002)
    for asked, task in callers:
        started, _ = await task
        assert started >= asked
    assert len(source.starts) == 2  # ten callers over ~20 ms, one read


async def test_a_quiet_key_is_read_at_once() -> None:
    reads, source = SharedReads(pace=0.05), Source()
    source.release.set()
    await reads.read("k", source.load)
    await asyncio.sleep(0.06)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    started, _ = await reads.read("k", source.load)
    assert started - asked < 0.05  # not held back: the last read was over `pace` ago


async def test_a_failed_read_fails_its_round_only() -> None:
    reads = SharedReads()
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("connection lost")
        return calls

    with pytest.raises(OSError):
        await reads.read("k", load)
    assert await reads.read("k", load) == 2
