"""`api.routing.IndexedRouter` picks the route Starlette's own scan would pick."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Match, Route

from api.app import routes
from api.routing import IndexedRouter, group_of


def _sample(template: str) -> str:
    """A path the template matches: each parameter filled in."""
    return re.sub(r"\{[^}:]+(:int)?\}", "7", re.sub(r"\{[^}]+:path\}", "a/b", template))


def _first_full(candidates, scope):
    for route in candidates:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


TABLE = routes()
PATHS = sorted(
    {_sample(r.path) for r in TABLE if isinstance(r, Route)}
    | {"/", "/nowhere", "/api/v1", "/api/v1/", "/api/v1/sites/", "//api/v1/sites", "/api/v1/x/y/z"}
    | {"/dashboard/sites/7/edit", "/dashboard/nothing/here", "/static/app.css"}
)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PATCH", "DELETE"])
def test_the_route_starlette_would_pick(path: str, method: str) -> None:
    router = IndexedRouter(TABLE)
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    assert _first_full(router.candidates(path), scope) is _first_full(TABLE, scope)


def test_every_route_is_a_candidate_for_its_own_paths() -> None:
    router = IndexedRouter(TABLE)
    for route in TABLE:
        path = _sample(route.path)
        assert route in router.candidates(path), route.path


def test_routes_added_later_are_indexed() -> None:
    router = IndexedRouter(list(TABLE))
    assert router.candidates("/test/boom") == router.candidates("/x")
    added = Route("/test/boom", lambda request: None)
    router.routes.insert(0, added)
    assert router.candidates("/test/boom")[0] is added
    assert added not in router.candidates("/api/v1/sites")


def test_groups() -> None:
    assert group_of("/api/v1/jobs/abc/stream") == "/api/v1/jobs"
    assert group_of("/api/v1/jobs") == "/api/v1/jobs"
    assert group_of("/healthz") == "/healthz"
    assert group_of("/") == "/"
