"""The public pages' figures (no sign-in): coverage (`api.coverage`), quality tiers and
delivery examples — as JSON under `/api/v1/public/…` and as the pages of
`api.public_pages`. Aggregates and anonymised evidence only: nothing here names a
directory, its URL or a customer (`domain.public_figures`, `domain.showcase`)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from domain import ids
from domain.public_figures import (
    MIN_DIRECTORIES,
    MIN_OUTCOMES,
    GroupFigures,
    by_category,
    by_dr_tier,
)
from domain.showcase import PublicExample, anonymise, shown
from projections.report_directories import directory_performances
from projections.showcase import PostgresExampleChoices

#: the most examples the page and the JSON show (the newest choices)
MAX_EXAMPLES = 12
CACHE = {"Cache-Control": "public, max-age=60"}


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


async def read_quality(request: Request) -> QualityTiers:
    """The quality tiers from the precomputed per-directory totals (every account's,
    kept by the projector: `report_directory_totals`), grouped here: one small read."""
    async with request.app.state.infra.read_pool.acquire() as conn:
        performances = await directory_performances(conn)
    return QualityTiers(
        MIN_DIRECTORIES, MIN_OUTCOMES, by_dr_tier(performances), by_category(performances)
    )


def _json(body: Any) -> Response:
    return Response(msgspec.json.encode(body), media_type="application/json", headers=CACHE)


async def examples_json(request: Request) -> Response:
    return _json(await read_examples(request))


async def quality_json(request: Request) -> Response:
    return _json(await read_quality(request))
