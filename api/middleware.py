"""The one pure-ASGI layer around every request (`Edge`): request ids, JSON access logs,
the request counters of /metrics, the last-resort 500 envelope, the optional trailing
slash of API.md, the query string as every route reads it, and the security headers of
every answer.

One layer, not five: each layer of its own cost every request an extra coroutine and an
extra `send` wrapper per message, and the headers of every answer were scanned twice;
what can be built once (the header lists) is built when the app is."""

from __future__ import annotations

import logging
import os
import time

import msgspec
from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters import causes
from adapters.log_format import line_writer
from api import metrics
from api.content_security import API_POLICY
from api.errors import error_response
from domain.cause import Cause, CauseKind

access_log = logging.getLogger("backlynk.access")
error_log = logging.getLogger("backlynk.error")
_encode = msgspec.json.Encoder().encode


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
    """Outermost layer of the app (inside Starlette's own error middleware):

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
    * any exception that escaped everything else becomes a 500 envelope without a trace;
    * one JSON access-log line per request, and the request counted under the template
      of the route Starlette's router matched (`scope["route"]`), never the raw path.
    """

    def __init__(self, app: ASGIApp, html_policy: str):
        self.app = app
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
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
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
            seconds = time.perf_counter() - started
            metrics.count_request(scope, status, seconds)
            # written directly when logging would do nothing else (`line_writer`)
            write = line_writer(access_log, logging.INFO)
            if write is not None or access_log.isEnabledFor(logging.INFO):
                line = _encode(
                    {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client": (scope.get("client") or ("", 0))[0],
                    }
                ).decode()
                if write is not None:
                    write(line)
                else:
                    access_log.info(line)
