"""The router of the app: Starlette's, less its scan of every route per request.

Starlette's `Router` tries each route's regular expression in order until one matches
the whole request (`Match.FULL`): a request for `/api/v1/jobs/{id}` paid for ~27
expressions, and a page at the end of the table for ~65. `IndexedRouter` groups the
routes by their first three path segments when those are fixed (`/api/v1/jobs`), and
tries, in table order, only the routes of the request's group and the few whose first
segments hold a parameter (`/static/{name}`, `/dashboard/{rest:path}`). No other route
can match the request's path, so the first full match among those is the one Starlette
would pick. Anything else — a wrong method (405 with every allowed method), no route
(404), a trailing slash — goes to Starlette's own scan, so those answers are unchanged.

A matched route whose endpoint is a coroutine function (every route of the API) is called
directly: `Request(scope)`, the endpoint, its response. Starlette's `Route.handle` would
add a layer of its own around it (`request_response`: a second `Request`, two closures
and an exception wrapper whose `send` wrapper every message passes through), and that
wrapper applies the very exception handlers the app's outer layer applies
(`scope["starlette.exception_handlers"]`, which `api.middleware.Edge` sets, as Starlette's
`ExceptionMiddleware` would): an exception the endpoint raises reaches the same handler
there, and its answer is the same.
A route with middleware of its own, a body limit or an ASGI endpoint keeps Starlette's
`handle`.

A path that is exactly a route's template without parameters (`/api/v1/sites`: most
reads) is looked up in a dict of those: no route before it in the table matches that path
at all, so Starlette would pick it whenever its method is allowed, and no expression needs
trying. Any other method goes the way above (a 405 lists every method).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette._utils import is_async_callable
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from api.queries import ascii_int


class NumberConvertor(Convertor[int]):
    """`{name:number}`: ASCII digits, as Starlette's `int`; a number of more than 18
    digits (leading zeros aside), which names nothing of ours, reads as 2**63. Starlette's
    `int` convertor raised on more than 4,300 digits while matching the route: a 500."""

    regex = "[0-9]+"
    TOO_LONG = 2**63

    def convert(self, value: str) -> int:
        number = ascii_int(value)
        return self.TOO_LONG if number is None else number

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("number", NumberConvertor())

#: path segments a group is keyed by (`/api/v1/sites`: "", "api", "v1", "sites")
_KEY_PARTS = 4


def group_of(path: str) -> str:
    """The group a path (a request's, or a route's template) falls in."""
    return "/".join(path.split("/", _KEY_PARTS)[:_KEY_PARTS])


Endpoint = Callable[[Request], Awaitable[Any]]


def direct_endpoint(route: BaseRoute) -> Endpoint | None:
    """The endpoint to call directly for `route` (see above), or None when Starlette's
    `Route.handle` must run: not a `Route`, one whose class has a `handle` of its own, an
    ASGI endpoint, a sync function (run in a thread), or an app wrapped in middleware or a
    body limit."""
    if not isinstance(route, Route) or not is_async_callable(route.endpoint):
        return None
    if type(route).handle is not Route.handle:  # a route class of its own handles itself
        return None
    if getattr(route.app, "__qualname__", "") != "request_response.<locals>.app":
        return None
    return route.endpoint


class IndexedRouter(Router):
    _index: dict[str, tuple[tuple[BaseRoute, Endpoint | None], ...]]
    _anywhere: tuple[tuple[BaseRoute, Endpoint | None], ...]
    #: path -> the route whose template it is (without parameters) and its endpoint
    _exact: dict[str, tuple[Route, Endpoint]]
    _indexed: list[BaseRoute] | None = None

    def _build(self) -> None:
        by_group: dict[str, list[tuple[int, BaseRoute]]] = {}
        anywhere: list[tuple[int, BaseRoute]] = []
        for position, route in enumerate(self.routes):
            group = group_of(route.path) if isinstance(route, Route) else "{"
            if "{" in group:
                anywhere.append((position, route))
            else:
                by_group.setdefault(group, []).append((position, route))
        self._index = {
            group: tuple(
                (route, direct_endpoint(route))
                for _, route in sorted([*routes, *anywhere], key=_first)
            )
            for group, routes in by_group.items()
        }
        self._anywhere = tuple((route, direct_endpoint(route)) for _, route in anywhere)
        self._exact = {}
        for candidates in self._index.values():
            for at, (route, endpoint) in enumerate(candidates):
                path = route.path  # type: ignore[attr-defined]
                if (
                    endpoint is not None
                    and not route.param_convertors  # type: ignore[attr-defined]
                    and not any(
                        earlier.path_regex.match(path)  # type: ignore[attr-defined]
                        for earlier, _ in candidates[:at]
                    )
                ):
                    self._exact.setdefault(path, (route, endpoint))  # type: ignore[arg-type]
        self._indexed = list(self.routes)

    def _candidates(self, path: str) -> tuple[tuple[BaseRoute, Endpoint | None], ...]:
        if self._indexed != self.routes:  # routes added since (tests add some)
            self._build()
        return self._index.get(group_of(path), self._anywhere)

    def exact(self, path: str, method: str) -> tuple[Route, Endpoint] | None:
        """The route Starlette would pick for `path` and `method` and its endpoint, when
        `path` is a template without parameters and `method` one the route allows."""
        if self._indexed != self.routes:
            self._build()
        found = self._exact.get(path)
        if found is None or (found[0].methods and method not in found[0].methods):
            return None
        return found

    def candidates(self, path: str) -> Sequence[BaseRoute]:
        """The routes that may match `path`, in table order."""
        return [route for route, _ in self._candidates(path)]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # behind a root path (uvicorn --root-path), Starlette's own scan
        if scope["type"] == "http" and not scope.get("root_path"):
            scope.setdefault("router", self)
            found = self.exact(scope["path"], scope["method"])
            if found is not None:
                exact, direct = found
                # what the route's `matches` would add to the scope
                scope["route"] = exact
                scope["endpoint"] = exact.endpoint
                scope["path_params"] = dict(scope.get("path_params", {}))
                response = await direct(Request(scope, receive, send))
                await response(scope, receive, send)
                return
            for route, endpoint in self._candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["route"] = route
                    scope.update(child_scope)
                    if endpoint is None:
                        await route.handle(scope, receive, send)
                    else:  # a full match: its method is allowed
                        response = await endpoint(Request(scope, receive, send))
                        await response(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def _first(item: tuple[int, BaseRoute]) -> int:
    return item[0]
