"""`GET /api/v1/public/coverage`: what the catalogue covers, in aggregate only — public
pages never expose the operational directory list."""

from __future__ import annotations

from collections import Counter

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from domain.directory import DR_TIERS, dr_tier


class TierCount(msgspec.Struct):
    tier: str
    count: int


class CategoryCoverage(msgspec.Struct):
    category: str
    count: int
    dr_tiers: list[TierCount]


class Coverage(msgspec.Struct):
    total: int
    categories: list[CategoryCoverage]
    dr_tiers: list[TierCount]


def _tiers(counter: Counter[str]) -> list[TierCount]:
    return [TierCount(t, counter[t]) for t in DR_TIERS]


async def read_coverage(request: Request) -> Coverage:
    """The catalogue's coverage: the JSON below and the public coverage page."""
    rows = await request.app.state.ports.listings.coverage()
    overall: Counter[str] = Counter()
    per_category: dict[str, Counter[str]] = {}
    for category, domain_rating, count in rows:
        tier = dr_tier(domain_rating)
        overall[tier] += count
        per_category.setdefault(category, Counter())[tier] += count
    return Coverage(
        total=sum(overall.values()),
        categories=[
            CategoryCoverage(c, sum(t.values()), _tiers(t)) for c, t in sorted(per_category.items())
        ],
        dr_tiers=_tiers(overall),
    )


async def coverage(request: Request) -> Response:
    return Response(
        msgspec.json.encode(await read_coverage(request)),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=60"},
    )
