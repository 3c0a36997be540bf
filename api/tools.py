"""Web tools for people: the backlink checker page, which calls the public endpoint. Its
script and style are same-origin files, so the page needs no inline code (it runs under a
strict Content-Security-Policy)."""

from __future__ import annotations

import functools
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response


@functools.cache
def _page(name: str) -> str:
    return resources.files("api").joinpath("pages", name).read_text("utf-8")


async def backlink_checker(request: Request) -> HTMLResponse:
    return HTMLResponse(_page("backlink_checker.html"))


async def backlink_checker_js(request: Request) -> Response:
    return Response(_page("backlink_checker.js"), media_type="text/javascript; charset=utf-8")


async def backlink_checker_css(request: Request) -> Response:
    return Response(_page("backlink_checker.css"), media_type="text/css; charset=utf-8")
