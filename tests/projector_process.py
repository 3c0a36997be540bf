"""Runs the projector with the test projection in its own process (for kill -9 tests).
Usage: python -m tests.projector_process DSN"""

from __future__ import annotations

import asyncio
import sys

from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from projections.runner import ProjectorRunner
from tests.counter_projection import CounterProjection


async def main(dsn: str) -> None:
    pool = await connect_pool(dsn, max_size=2)
    runner = ProjectorRunner(
        dsn,
        PostgresEventStore(pool),
        [CounterProjection()],
        batch_size=7,
        poll_interval=0.05,
        lock_retry=0.1,
    )
    await runner.run_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
