"""Every server-rendered page of the app, outside the API's operation table (pages are
for people: they are not in the OpenAPI document). Each feature keeps its pages in its
own module or package with a `routes()`; add it to the list below. The framework they
share is `api.html` (templates, static files) and `api.charts` (SVG charts)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from api import dashboard, html, public_pages


def routes() -> list[BaseRoute]:
    return [*html.static_routes(), *dashboard.routes(), *public_pages.routes()]
