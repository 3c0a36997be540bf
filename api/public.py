"""The public pages' figures (no sign-in): coverage (`api.coverage`), quality tiers and
delivery examples — as JSON under `/api/v1/public/…` and as the pages of
`api.public_pages`. Aggregates and anonymised evidence only: nothing here names a
directory, its URL or a customer (`domain.public_figures`, `domain.showcase`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from domain import ids
from domain.public_figures import (
    MIN_DIRECTORIES,
    MIN_OUTCOMES,
    DirectoryPerformance,
    GroupFigures,
    by_category,
    by_dr_tier,
)
from domain.showcase import PublicExample, anonymise, shown
from projections.report_directories import directory_stats
from projections.showcase import PostgresExampleChoices

#: the most examples the page and the JSON show (the newest choices)
MAX_EXAMPLES = 12
#: how long a web process reuses the quality figures: they aggregate every account's
#: tasks, and anyone may ask for them as often as they like
QUALITY_TTL_S = 60.0
CACHE = {"Cache-Control": "public, max-age=60"}

T = TypeVar("T")


class DeliveryExamples(msgspec.Struct):
    examples: list[PublicExample]


class QualityTiers(msgspec.Struct):
    """How the catalogue's directories perform, in aggregate: per DR tier (every tier, in
    order) and per category (those with data). A group below the minimum sample has
    `enough_data: false` and no figures."""

    min_directories: int
    min_outcomes: int
    dr_tiers: list[GroupFigures]
    categories: list[GroupFigures]


async def read_examples(request: Request) -> DeliveryExamples:
    facts = await PostgresExampleChoices(request.app.state.infra.read_pool).facts()
    return DeliveryExamples(
        [anonymise(f, ids.encode("ex", f.choice.id)) for f in shown(facts)][:MAX_EXAMPLES]
    )


async def _quality(request: Request) -> QualityTiers:
    catalogue = {d.id: d for d in await request.app.state.ports.listings.every()}
    async with request.app.state.infra.read_pool.acquire() as conn:
        stats = await directory_stats(conn)  # every account's
    performances = [
        DirectoryPerformance(
            category=catalogue[s.directory_id].category,
            domain_rating=catalogue[s.directory_id].domain_rating,
            verified=s.verified,
            failed=s.failed,
            median_seconds_to_verified=s.median_seconds_to_verified,
            backlinks=s.backlinks,
            dofollow_share=s.dofollow_share,
        )
        for s in stats
        if s.directory_id in catalogue
    ]
    return QualityTiers(
        MIN_DIRECTORIES, MIN_OUTCOMES, by_dr_tier(performances), by_category(performances)
    )


async def _reused(
    request: Request, name: str, ttl: float, compute: Callable[[Request], Awaitable[T]]
) -> T:
    """`compute`'s answer, computed at most once per `ttl` seconds in this web process
    (concurrent askers wait for the same computation)."""
    state = request.app.state
    if not hasattr(state, "public_figures"):
        state.public_figures = {}
    held: dict[str, Any] = state.public_figures
    entry = held.setdefault(name, {"lock": asyncio.Lock(), "at": -ttl, "value": None})
    async with entry["lock"]:
        if time.monotonic() - entry["at"] >= ttl:
            entry["value"], entry["at"] = await compute(request), time.monotonic()
        return entry["value"]


async def read_quality(request: Request) -> QualityTiers:
    return await _reused(request, "quality", QUALITY_TTL_S, _quality)


def _json(body: Any) -> Response:
    return Response(msgspec.json.encode(body), media_type="application/json", headers=CACHE)


async def examples_json(request: Request) -> Response:
    return _json(await read_examples(request))


async def quality_json(request: Request) -> Response:
    return _json(await read_quality(request))
