"""Read-your-writes: a command answers 2xx only once the read models show its effect
(bounded: after `read_your_writes_wait`, 2 s by default, it answers anyway; the write
itself has committed)."""

from __future__ import annotations

from starlette.requests import Request

from projections.runner import wait_for


async def settle(request: Request, notification_id: int) -> bool:
    """True once the read models show the write; False if they are still behind after
    the bound (the caller then answers from the aggregate it just saved)."""
    state = request.app.state
    return await wait_for(
        state.infra.read_pool,
        state.projections,
        notification_id,
        timeout=state.settings.read_your_writes_wait,
    )
