"""`adapters.quick_reads.QuickReads`: one-statement reads on kept connections, the pool
still in charge of broken, cancelled and failed ones (real Postgres, no mocks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from adapters.db import connect_pool
from adapters.quick_reads import QuickReads, usable


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect_pool(database_url, min_size=1, max_size=4)
    yield pool
    async with asyncio.timeout(30):  # a connection never given back would hang here
        await pool.close()


async def _backend(reads: QuickReads) -> int:
    return await reads.fetchval("SELECT pg_backend_pid()")


async def test_fetch_fetchrow_fetchval(pool: asyncpg.Pool) -> None:
    reads = QuickReads.over(pool)
    assert reads.size == 2
    assert [tuple(r) for r in await reads.fetch("SELECT * FROM generate_series(1, 3)")] == [
        (1,),
        (2,),
        (3,),
    ]
    assert (await reads.fetchrow("SELECT $1::int AS a, 'x' AS b", 7))["a"] == 7
    assert await reads.fetchrow("SELECT 1 WHERE false") is None
    assert await reads.fetchval("SELECT $1::text", "v") == "v"
    await reads.close()


async def test_keeps_at_most_half_the_pool_and_every_caller_is_served(
    pool: asyncpg.Pool,
) -> None:
    reads = QuickReads.over(pool)
    backends = await asyncio.gather(
        *(reads.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.01)") for _ in range(40))
    )
    assert len(set(backends)) <= 2
    # the other half is still the pool's: a transaction gets a connection meanwhile
    async with pool.acquire() as conn, conn.transaction():
        assert await conn.fetchval("SELECT 1") == 1
    await reads.close()


async def test_a_failed_statement_gives_its_connection_back_to_the_pool(
    pool: asyncpg.Pool,
) -> None:
    reads = QuickReads(pool, 1)
    await _backend(reads)
    assert len(reads._kept) == 1
    with pytest.raises(asyncpg.DivisionByZeroError):
        await reads.fetchval("SELECT 1 / 0")
    assert reads._kept == {} and reads._idle == []  # the pool has it back
    assert await reads.fetchval("SELECT 2") == 2  # and a read takes one from it again
    assert len(reads._kept) == 1
    await reads.close()


async def test_a_connection_closed_by_the_server_is_replaced(pool: asyncpg.Pool) -> None:
    reads = QuickReads(pool, 1)
    kept = await _backend(reads)
    async with pool.acquire() as admin:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", kept)
    # the kept connection learns it is closed once the loop reads its socket
    for _ in range(100):
        await asyncio.sleep(0.05)
        if not any(usable(conn) for conn in reads._idle):
            break
    assert await _backend(reads) != kept
    await reads.close()


async def test_a_cancelled_statement_leaves_the_reads_usable(pool: asyncpg.Pool) -> None:
    reads = QuickReads(pool, 1)
    slow = asyncio.create_task(reads.fetchval("SELECT pg_sleep(30)"))
    queued = asyncio.create_task(reads.fetchval("SELECT 'queued'"))
    await asyncio.sleep(0.3)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    async with asyncio.timeout(30):
        assert await queued == "queued"
        assert await reads.fetchval("SELECT 3") == 3
    await reads.close()


async def test_a_waiter_that_goes_away_loses_nothing(pool: asyncpg.Pool) -> None:
    reads = QuickReads(pool, 1)
    busy = asyncio.create_task(reads.fetchval("SELECT 1 FROM pg_sleep(0.3)"))
    await asyncio.sleep(0.05)
    gone = asyncio.create_task(reads.fetchval("SELECT 2"))
    await asyncio.sleep(0.05)
    gone.cancel()
    assert await busy == 1
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await reads.fetchval("SELECT 4") == 4
    assert len(reads._kept) == 1
    await reads.close()


async def test_close_gives_every_connection_back(pool: asyncpg.Pool) -> None:
    reads = QuickReads(pool, 2)
    await asyncio.gather(*(reads.fetchval("SELECT 1 FROM pg_sleep(0.05)") for _ in range(6)))
    lent = asyncio.create_task(reads.fetchval("SELECT 5 FROM pg_sleep(0.2)"))
    await asyncio.sleep(0.05)
    await reads.close()
    assert await lent == 5  # the one lent at close goes back when its statement is done
    assert await reads.fetchval("SELECT 6") == 6  # after close: the pool's own way
    assert reads._kept == {}
    # the pool closes (the fixture), which waits for every connection to be back


async def test_a_pool_too_small_to_share_is_used_as_it_is(database_url: str) -> None:
    pool = await connect_pool(database_url, min_size=1, max_size=1)
    try:
        reads = QuickReads.over(pool)
        assert reads.size == 0
        assert await reads.fetchval("SELECT 7") == 7
        async with pool.acquire() as conn:  # never kept: the pool has it back
            assert await conn.fetchval("SELECT 8") == 8
        await reads.close()
    finally:
        await pool.close()
