"""The one pure-ASGI layer around every request (`Edge`): request ids, JSON access logs,
the request counters of /metrics, the app's exception handlers and the last-resort 500
envelope, the optional trailing slash of API.md, the query string as every route reads
it, and the security headers of every answer.

One layer, not seven: each layer of its own cost every request an extra coroutine and an
extra `send` wrapper per message, and the headers of every answer were scanned twice;
what can be built once (the header lists) is built when the app is. That includes
Starlette's own two layers (`ServerErrorMiddleware`, `ExceptionMiddleware`, with a
`Request` and a `send` wrapper each): `EdgeApp` puts `Edge` in their place, and `Edge`
does what they did for an HTTP request."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from starlette._utils import is_async_callable
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from adapters import causes
from api.content_security import API_POLICY
from api.errors import error_response
from api.request_log import Answered, RequestLog
from domain.cause import Cause, CauseKind

error_log = logging.getLogger("backlynk.error")


def _valid_request_id(value: str) -> bool:
    return 0 < len(value) <= 200 and value.isprintable()


def without_empty_parameters(query: bytes) -> bytes:
    """`query` less every parameter whose value is empty (`status=`, a bare `status`):
    an empty parameter means the parameter is absent, on every list (API.md)."""
    kept = [part for part in query.split(b"&") if part.partition(b"=")[2]]
    return b"&".join(kept)


def _nul_refusal(query: bytes) -> Response | None:
    """A 422 naming the first parameter carrying NUL (`%00`): Postgres text cannot hold
    NUL, and no parameter needs one."""
    for name, value in QueryParams(query).multi_items():
        if "\x00" in name or "\x00" in value:
            return error_response(
                422,
                "validation_failed",
                "Query parameters must not contain NUL (U+0000) characters.",
                field=name.replace("\x00", "\\u0000"),
            )
    return None


class Edge:
    """The app's one layer around its router (`EdgeApp`):

    * assigns X-Request-Id (the client's, if printable and at most 200 characters), and
      events saved while handling the request record it as their cause (`api.auth` adds
      the caller once known);
    * `/api/v1/jobs/` and `/api/v1/jobs` are the same route (API.md);
    * the query string as every route reads it: empty parameters are dropped (they mean
      "absent"), and a parameter carrying NUL is refused (422 naming it) before any
      route sees it;
    * every answer says `nosniff` and sends no referrer; an HTML page gets `html_policy`
      (see `api.content_security`) and is never framed, any other answer the policy that
      loads nothing;
    * an exception the route raised goes to the app's handler for it (`handlers`: by
      class, the nearest in its MRO; an `HTTPException` first by its status code), as
      Starlette's `ExceptionMiddleware` did; the routes Starlette's `Route.handle` serves
      apply the same handlers themselves (`scope["starlette.exception_handlers"]`);
    * any other exception, or one raised by a handler, becomes a 500 envelope without a
      trace (and an error-log line with it), as does one the route raised after it had
      begun answering (then only the log line: the answer cannot be replaced);
    * one JSON access-log line per request, and the request counted under the template
      of the route Starlette's router matched (`scope["route"]`), never the raw path
      (`api.request_log`: those of one loop turn together, at the next).
    """

    def __init__(
        self,
        app: ASGIApp,
        html_policy: str,
        handlers: Mapping[Any, ExceptionHandler] | None = None,
    ):
        self.app = app
        exception_handlers: dict[Any, ExceptionHandler] = {}
        status_handlers: dict[int, ExceptionHandler] = {}
        for key, handler in (handlers or {}).items():
            if not is_async_callable(handler):
                raise TypeError(f"the handler for {key!r} must be a coroutine function")
            if isinstance(key, int):
                status_handlers[key] = handler
            else:
                exception_handlers[key] = handler
        self.handlers = (exception_handlers, status_handlers)
        self.log = RequestLog()
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        self.html = [
            *common,
            (b"content-security-policy", html_policy.encode()),
            (b"x-frame-options", b"DENY"),
        ]
        self.other = [*common, (b"content-security-policy", API_POLICY.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
        if not _valid_request_id(request_id):
            request_id = f"req_{os.urandom(16).hex()}"
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        refusal = None
        if (len(path) > 1 and path.endswith("/")) or query:
            scope = dict(scope)
            if len(path) > 1 and path.endswith("/"):
                scope["path"] = path.rstrip("/") or "/"
                scope["raw_path"] = scope["path"].encode()
            if query:
                query = scope["query_string"] = without_empty_parameters(query)
                if b"%00" in query:
                    refusal = _nul_refusal(query)
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = message.get("headers", [])
                names = set()
                html = False
                for name, value in headers:
                    name = name.lower()
                    names.add(name)
                    if name == b"content-type" and value.lower().startswith(b"text/html"):
                        html = True
                extra = self.html if html else self.other
                message["headers"] = [
                    *headers,
                    id_header,
                    *(header for header in extra if header[0] not in names),
                ]
            await send(message)

        # what the request saves records it (api.auth adds the caller once known)
        token = causes.current.set(
            Cause(
                CauseKind.REQUEST,
                name=f"{scope['method']} {path}",
                request_id=request_id,
            )
        )
        try:
            try:
                if refusal is not None:
                    await refusal(scope, receive, send_with_headers)
                else:
                    scope["starlette.exception_handlers"] = self.handlers
                    await self.app(scope, receive, send_with_headers)
            except Exception as exc:
                handler = self._handler_for(exc)
                if handler is None or response_started:
                    raise
                response = await handler(Request(scope, receive, send), exc)
                # a reused exception instance would keep every request's traceback
                exc.__traceback__ = None
                await response(scope, receive, send_with_headers)
        except Exception:
            error_log.exception("unhandled error request_id=%s", request_id)
            if not response_started:
                response = error_response(
                    500,
                    "internal_error",
                    f"Something went wrong on our side. Quote request id {request_id}.",
                )
                await response(scope, receive, send_with_headers)
        finally:
            causes.current.reset(token)
            self.log.add(
                Answered(
                    request_id,
                    scope["method"],
                    path,
                    status,
                    time.perf_counter() - started,
                    scope.get("client"),
                    scope.get("route"),
                )
            )

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        exception_handlers, status_handlers = self.handlers
        if isinstance(exc, HTTPException):
            handler = status_handlers.get(exc.status_code)
            if handler is not None:
                return handler
        for cls in type(exc).__mro__:
            handler = exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None


class EdgeApp(Starlette):
    """Starlette with `Edge` as the only layer around its router, in place of Starlette's
    own error and exception middleware (`Edge` does their work: the app's exception
    handlers, the last-resort 500). An exception `Edge` itself raised would reach the
    server, which answers 500 and logs it, as Starlette's error middleware did.
    `html_policy`: `Edge`'s; `middleware` is not taken (there is no other layer)."""

    def __init__(self, *, html_policy: str, **options: Any):
        if options.get("middleware"):
            raise TypeError("EdgeApp has no layer but Edge")
        super().__init__(**options)
        self.html_policy = html_policy

    def build_middleware_stack(self) -> ASGIApp:
        return Edge(self.router, self.html_policy, self.exception_handlers)
