"""`/metrics` for Prometheus, and the count of every request (`count_requests`).

The route stays outside `/api/v1` and the OpenAPI document: it is the operator's, not the
customers'. Without `BACKLYNK_METRICS_TOKEN` it answers 404 like any unknown path; with
it, the scraper sends `Authorization: Bearer <token>` (401 otherwise, compared in
constant time). What is counted elsewhere (workers, fetcher, submitter) reaches this
answer through the multiprocess directory (`adapters.metrics`); projector lag and queue
depth are read from Postgres and Redis at each scrape.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from adapters import metrics
from api.errors import error_response
from projections import stalls

#: other methods count as `other`: a label value per made-up method would be a new series
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: each source gets this long at a scrape; a slow one is reported down, the rest still shown
SOURCE_TIMEOUT = 2.0


#: (route, method, status) -> its counter and its histogram: `labels()` validates and
#: locks on every call, and the set is small (route templates, METHODS, statuses)
_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def count_requests(answered: Iterable[tuple[str | None, str, int, float]]) -> None:
    """Count answered requests, each (the template of the route Starlette's router
    matched — `scope["route"]` —, method, status, seconds), under that template, never
    the raw path, so ids make no new series; a path that no route matched (None) counts
    as `unmatched`. Called by `api.request_log` with the requests of one loop turn: a
    series counts them all in one step."""
    durations: dict[tuple[str, str, int], list[float]] = {}
    for route, method, status, seconds in answered:
        key = (route or "unmatched", method if method in METHODS else "other", status)
        durations.setdefault(key, []).append(seconds)
    for key, seconds_each in durations.items():
        series = _series.get(key)
        if series is None:
            route, method, status = key
            series = _series[key] = (
                metrics.HTTP_REQUESTS.labels(route, method, str(status)),
                metrics.HTTP_DURATION.labels(route, method),
            )
        series[0].inc(len(seconds_each))
        for seconds in seconds_each:
            series[1].observe(seconds)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def _projector_lag(state: State) -> Metric:
    lag = GaugeMetricFamily(
        "backlynk_projection_lag",
        "Events in the log that the projection has not applied yet (head position minus "
        "the projection's tracked position).",
        labels=["projection"],
    )
    infra = state.infra
    head = await infra.store.max_notification_id()
    at = await stalls.positions(infra.pool, state.projections)
    for projection in state.projections:
        lag.add_metric([projection.name], max(0, head - at.get(projection.name, 0)))
    return lag


async def _queue_depth(state: State) -> Metric:
    depth = GaugeMetricFamily(
        "backlynk_queue_jobs",
        "Jobs in the arq queue: due (waiting for a worker or running) and deferred (due "
        "later: retries, later looks for a listing).",
        labels=["state"],
    )
    queue = state.settings.queue_name
    redis = state.infra.redis
    now_ms = int(time.time() * 1000)
    total, due = await asyncio.gather(redis.zcard(queue), redis.zcount(queue, "-inf", now_ms))
    depth.add_metric(["due"], due)
    depth.add_metric(["deferred"], total - due)
    return depth


async def _scraped(state: State) -> list[Metric]:
    """The families read at this scrape, and whether each source answered."""
    up = GaugeMetricFamily(
        "backlynk_metrics_source_up",
        "1 when the source of the scrape-time metrics answered this scrape, else 0.",
        labels=["source"],
    )
    found: list[Metric] = [up]
    for source, read in (("postgres", _projector_lag), ("redis", _queue_depth)):
        try:
            found.append(await asyncio.wait_for(read(state), SOURCE_TIMEOUT))
            up.add_metric([source], 1)
        except Exception:  # a scrape reports what it can; the counters still matter
            up.add_metric([source], 0)
    return found


async def scrape(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if not token:
        return error_response(404, "not_found", f"No route matches {request.url.path}.")
    if not _authorized(request, token):
        return error_response(
            401,
            "authentication_required",
            "Send the metrics token (BACKLYNK_METRICS_TOKEN) as `Authorization: Bearer …`.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = metrics.exposition(await _scraped(request.app.state))
    return Response(body, media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [Route("/metrics", scrape, methods=["GET"])]
