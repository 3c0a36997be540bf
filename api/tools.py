"""Web tools for people: the backlink checker page, which calls the public endpoint."""

from __future__ import annotations

import functools
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route


@functools.cache
def _page(name: str) -> str:
    return resources.files("api").joinpath("pages", name).read_text("utf-8")


async def backlink_checker(request: Request) -> HTMLResponse:
    return HTMLResponse(_page("backlink_checker.html"))


def routes() -> list[BaseRoute]:
    return [Route("/tools/backlink-checker", backlink_checker, methods=["GET"])]
