"""`api.routing.IndexedRouter` picks the route Starlette's own scan would pick."""

from __future__ import annotations

import re

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Match, Route

from api.app import routes
from api.routing import IndexedRouter, direct_endpoint, group_of


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


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PATCH", "DELETE"])
def test_a_path_looked_up_whole_is_the_route_starlette_would_pick(method: str) -> None:
    router = IndexedRouter(TABLE)
    for path in PATHS:
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        found = router.exact(path, method)
        if found is not None:
            assert found[0] is _first_full(TABLE, scope), (method, path)
            assert found[1] is direct_endpoint(found[0])
    # the reads of every list are looked up whole
    for path in ("/api/v1/users/me", "/api/v1/sites", "/api/v1/directories", "/healthz"):
        assert router.exact(path, "GET") is not None, path
    assert router.exact("/api/v1/sites", "PUT") is None  # a 405, answered as Starlette does


def test_a_route_shadowed_by_an_earlier_one_is_not_looked_up_whole() -> None:
    first = Route("/t/{name}", lambda request: None)
    shadowed = Route("/t/fixed", _plain)
    router = IndexedRouter([first, shadowed])
    assert router.exact("/t/fixed", "GET") is None


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


# -- the direct call of a matched route's endpoint -----------------------------------


class Refused(Exception):
    pass


async def _ok(request):
    return PlainTextResponse(f"ok {request.path_params['n']}")


async def _plain(request):
    return PlainTextResponse("ok")


async def _refused(request):
    raise Refused("no")


async def _teapot(request):
    raise HTTPException(418, "short and stout")


async def _crash(request):
    raise RuntimeError("nobody handles this")


def _sync(request):
    return PlainTextResponse("sync")


class _Stamp:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def stamped(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-stamp", b"1")]
            await send(message)

        await self.app(scope, receive, stamped)


async def _on_refused(request, exc):
    return PlainTextResponse(f"refused on {request.url.path}", status_code=409)


async def _on_418(request, exc):
    return PlainTextResponse(f"teapot: {exc.detail}", status_code=418)


def _app() -> Starlette:
    table = [
        Route("/t/ok/{n:int}", _ok),
        Route("/t/refused", _refused),
        Route("/t/teapot", _teapot),
        Route("/t/crash", _crash),
        Route("/t/sync", _sync),
        Route("/t/stamped", _plain, middleware=[Middleware(_Stamp)]),
    ]
    app = Starlette(routes=table, exception_handlers={Refused: _on_refused, 418: _on_418})
    app.router = IndexedRouter(app.router.routes)
    return app


async def _get(app, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"t")],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    sent: list = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return (
        sent[0]["status"],
        dict(sent[0]["headers"]),
        b"".join(m.get("body", b"") for m in sent[1:]),
    )


def test_which_endpoints_are_called_directly() -> None:
    by_path = {r.path: r for r in _app().router.routes}
    assert direct_endpoint(by_path["/t/ok/{n:int}"]) is _ok
    assert direct_endpoint(by_path["/t/sync"]) is None  # Starlette runs it in a thread
    assert direct_endpoint(by_path["/t/stamped"]) is None  # its middleware must run

    class OwnHandle(Route):
        async def handle(self, scope, receive, send):
            await super().handle(scope, receive, send)

    assert direct_endpoint(OwnHandle("/t/own", _plain)) is None
    every = [r for r in TABLE if isinstance(r, Route)]
    assert sum(direct_endpoint(r) is not None for r in every) >= len(every) - 2


async def test_a_direct_call_answers_as_starlettes_route_would() -> None:
    app = _app()
    assert await _get(app, "/t/ok/7") == (
        200,
        {b"content-length": b"4", b"content-type": b"text/plain; charset=utf-8"},
        b"ok 7",
    )
    # the endpoint's exceptions reach the app's handlers, with the request that failed
    assert (await _get(app, "/t/refused"))[::2] == (409, b"refused on /t/refused")
    assert (await _get(app, "/t/teapot"))[::2] == (418, b"teapot: short and stout")
    with pytest.raises(RuntimeError, match="nobody handles this"):
        await _get(app, "/t/crash")
    assert (await _get(app, "/t/sync"))[::2] == (200, b"sync")
    status, headers, _ = await _get(app, "/t/stamped")
    assert (status, headers[b"x-stamp"]) == (200, b"1")
