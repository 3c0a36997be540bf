"""The public pages for people (no sign-in): coverage, quality tiers and delivery
examples, beside the backlink checker (`/tools/backlink-checker`), each linking to the
others. Server-rendered (`api.html`) from the same figures as their JSON twins under
`/api/v1/public/…` (`api.coverage`, `api.public`): aggregates and anonymised evidence,
never the directory list, a directory's name or URL, or a customer."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from api import charts, html
from api.coverage import read_coverage
from api.public import CACHE, read_examples, read_quality

#: the public pages, in the order of their navigation
PAGES = (
    ("Coverage", "/coverage"),
    ("Quality tiers", "/quality-tiers"),
    ("Delivery examples", "/delivery-examples"),
    ("Backlink checker", "/tools/backlink-checker"),
)


def _page(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    nav = [
        {"label": label, "href": href, "current": href == request.url.path} for label, href in PAGES
    ]
    # the same for everyone (never who is signed in): a shared cache may keep it as long
    # as the JSON twins
    anonymous = {"signed_in": None, "csrf_token": "", "nav": nav}
    return html.render(request, template, {**anonymous, **context}, headers=CACHE)


async def coverage_page(request: Request) -> HTMLResponse:
    coverage = await read_coverage(request)
    tiers = charts.bar_chart(
        [(f"DR {t.tier}", t.count) for t in coverage.dr_tiers],
        title="Active directories by DR tier",
    )
    categories = charts.bar_chart(
        [(c.category, c.count) for c in coverage.categories],
        title="Active directories by category",
    )
    return _page(
        request,
        "public/coverage.html",
        {"coverage": coverage, "tier_chart": tiers, "category_chart": categories},
    )


async def quality_page(request: Request) -> HTMLResponse:
    quality = await read_quality(request)
    chart = charts.bar_chart(
        [
            (f"DR {t.group}", round(t.acceptance_rate * 100, 1))
            for t in quality.dr_tiers
            if t.acceptance_rate is not None
        ],
        title="Acceptance rate by DR tier (tiers with enough data)",
        unit="%",
    )
    return _page(request, "public/quality_tiers.html", {"quality": quality, "chart": chart})


async def examples_page(request: Request) -> HTMLResponse:
    examples = await read_examples(request)
    return _page(request, "public/delivery_examples.html", {"examples": examples.examples})


def routes() -> list[BaseRoute]:
    return [
        Route("/coverage", coverage_page, methods=["GET"]),
        Route("/quality-tiers", quality_page, methods=["GET"]),
        Route("/delivery-examples", examples_page, methods=["GET"]),
    ]
