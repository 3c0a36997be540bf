"""Server-rendered HTML pages: one Jinja2 environment, the same-origin static files, and
the way a feature declares its pages.

* `render(request, "dashboard/sites.html", {...}, status=200)` -> an HTMLResponse. Every
  template extends `base.html`; autoescape is on for every template, and an undefined
  name is an error (`StrictUndefined`), not an empty string.
* Static files live in `api/static/` and are served at `/static/<name>` (a fixed set read
  at start-up: no path from a request ever reaches the file system). Templates link them
  with `static_url("app.css")`, which adds a digest of the content so a browser may keep
  them for a year and still never runs a stale script.
* A feature's pages are a list of Starlette routes from its own `routes()`; `api.web`
  gathers every feature's list into the app.

Pages run under the Content-Security-Policy of `api.content_security`: no inline `<script>`
or `<style>`, no `style=` attribute and no `on…=` handler in any template — scripts and
styles are the files in `api/static/`. Charts are inline SVG (`api.charts`), styled
through classes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from api import charts

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    digest: str  # first 12 hex digits of the content's sha256


@functools.cache
def static_files() -> dict[str, StaticFile]:
    folder = resources.files("api").joinpath("static")
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in STATIC_TYPES:
            body = entry.read_bytes()
            out[entry.name] = StaticFile(
                body, STATIC_TYPES[suffix], hashlib.sha256(body).hexdigest()[:12]
            )
    return out


def static_url(name: str) -> str:
    """The URL of a file of `api/static/`, versioned by its content."""
    return f"/static/{name}?v={static_files()[name].digest}"


async def static(request: Request) -> Response:
    found = static_files().get(request.path_params["name"])
    if found is None:
        return Response("Not found", status_code=404, media_type="text/plain; charset=utf-8")
    # a versioned URL never changes content; an unversioned one is revalidated
    versioned = request.query_params.get("v") == found.digest
    etag = f'"{found.digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


def static_routes() -> list[Route]:
    return [Route("/static/{name}", static, methods=["GET"])]


def _when(value: datetime | None, style: str = "datetime") -> str:
    """A date-time as people read it, in UTC (the service's one clock)."""
    if value is None:
        return "—"
    if style == "date":
        return value.strftime("%Y-%m-%d")
    if style == "month":
        return value.strftime("%B %Y")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("api", "templates"),
        autoescape=True,  # every template is HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static_url=static_url,
        bar_chart=charts.bar_chart,
        line_chart=charts.line_chart,
        meter=charts.meter,
    )
    env.filters.update(when=_when, number=_number)
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """`template` rendered with `context`, plus `request` and what `base.html` reads
    (`csrf_token`, `signed_in`, `nav`), which a feature may set on `request.state`.

    Pages are personal or change often: never stored by a shared cache."""
    state = request.state
    values: dict[str, Any] = {
        "request": request,
        "csrf_token": getattr(state, "csrf_token", ""),
        "signed_in": getattr(state, "page_user", None),
        "nav": getattr(state, "nav", None),
        **(context or {}),
    }
    body = environment().get_template(template).render(values)
    out = {"Cache-Control": "no-store", **(headers or {})}
    return HTMLResponse(body, status_code=status, headers=out)
