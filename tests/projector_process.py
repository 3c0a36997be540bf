"""Runs the projector with the test projection in its own process (for kill -9 tests), with
the runner's production settings but small batches.
Usage: python -m tests.projector_process DSN [gated]"""

from __future__ import annotations

import asyncio
import sys

from adapters.db import connect_pool
from adapters.event_store import PostgresEventStore
from projections.runner import ProjectorRunner
from tests.counter_projection import CounterProjection, GatedCounterProjection


async def main(dsn: str, gated: bool) -> None:
    pool = await connect_pool(dsn, max_size=2)
    projection = GatedCounterProjection() if gated else CounterProjection()
    runner = ProjectorRunner(dsn, PostgresEventStore(pool), [projection], batch_size=7)
    await runner.run_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:] == ["gated"]))
