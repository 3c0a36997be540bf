"""Liveness and readiness.

`/readyz` answers 503 only when this process cannot serve (Postgres or Redis does not
answer): that is what a load balancer should act on. A stuck projection is a fault of the
whole deployment, not of this process, so taking every web process out of rotation would
turn one stale read model into a full outage: the answer stays 200 with `status:
"degraded"`, and `stuck_projections` names each stuck projection and the position to skip
(`backlynk projections skip NAME POSITION`), for monitoring and the operator.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from projections import stalls


class StuckProjection(msgspec.Struct):
    name: str
    #: the notification id of the event it cannot apply (the one to skip)
    position: int
    topic: str
    since: datetime
    attempts: int
    #: the error's class only; the message (which may quote event data) is in the logs
    #: and in `backlynk projections status`
    error: str


class Readiness(msgspec.Struct):
    status: str  # ok | degraded | unavailable
    checks: dict[str, str]
    stuck_projections: list[StuckProjection]


async def healthz(request: Request) -> JSONResponse:
    """The process is up (no dependency is consulted)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Postgres and Redis answer within a second each; no projection is stuck."""
    infra = request.app.state.infra
    checks: dict[str, str] = {}
    stuck: list[stalls.Stall] = []

    async def postgres() -> None:
        await infra.pool.fetchval("SELECT 1")
        stuck.extend(await stalls.stuck(infra.pool, request.app.state.projections))

    async def check(name: str, probe) -> None:
        try:
            await asyncio.wait_for(probe(), 1.0)
            checks[name] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks[name] = f"unavailable: {type(exc).__name__}"

    await asyncio.gather(check("postgres", postgres), check("redis", infra.redis.ping))
    ready = all(v == "ok" for v in checks.values())
    if ready:
        checks["projections"] = (
            "stuck: " + ", ".join(f"{s.projection} at {s.notification_id}" for s in stuck)
            if stuck
            else "ok"
        )
    body = Readiness(
        status="unavailable" if not ready else "degraded" if stuck else "ok",
        checks=checks,
        stuck_projections=[
            StuckProjection(
                name=s.projection,
                position=s.notification_id,
                topic=s.topic.rpartition(":")[2],
                since=s.since,
                attempts=s.attempts,
                error=s.error.partition(":")[0],
            )
            for s in stuck
        ],
    )
    return Response(
        msgspec.json.encode(body),
        status_code=200 if ready else 503,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
