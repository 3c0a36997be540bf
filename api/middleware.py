"""Pure ASGI middleware: request ids, JSON access logs, the last-resort 500 envelope,
the optional trailing slash of API.md, and the security headers of every answer."""

from __future__ import annotations

import logging
import time
import uuid

import msgspec
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.causes import caused_by
from api.content_security import API_POLICY
from api.errors import error_response
from domain.cause import Cause, CauseKind

access_log = logging.getLogger("backlynk.access")
error_log = logging.getLogger("backlynk.error")


def _valid_request_id(value: str) -> bool:
    return 0 < len(value) <= 200 and value.isprintable()


class RequestContext:
    """Outermost layer: assigns X-Request-Id, logs one JSON line per request, and turns
    any exception that escaped everything else into a 500 envelope without a trace.
    Events saved while handling the request record it as their cause."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _valid_request_id(given) else f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        # what the request saves records it (api.auth adds the caller once known)
        cause = Cause(
            CauseKind.REQUEST,
            name=f"{scope.get('method')} {scope.get('path')}",
            request_id=request_id,
        )
        try:
            with caused_by(cause):
                await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error request_id=%s", request_id)
            if not response_started:
                response = error_response(
                    500,
                    "internal_error",
                    f"Something went wrong on our side. Quote request id {request_id}.",
                )
                await response(scope, receive, send_with_id)
        finally:
            access_log.info(
                msgspec.json.encode(
                    {
                        "request_id": request_id,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "client": (scope.get("client") or ("", 0))[0],
                    }
                ).decode()
            )


class OptionalTrailingSlash:
    """`/api/v1/jobs/` and `/api/v1/jobs` are the same route (API.md)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path.rstrip("/") or "/"
                scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


def without_empty_parameters(query: bytes) -> bytes:
    """`query` less every parameter whose value is empty (`status=`, a bare `status`):
    an empty parameter means the parameter is absent, on every list (API.md)."""
    kept = [part for part in query.split(b"&") if part.partition(b"=")[2]]
    return b"&".join(kept)


class QueryText:
    """The query string as every route reads it, decided here once: empty parameters are
    dropped (they mean "absent"), and a parameter carrying a NUL character (`%00`) is
    refused (422 naming it) before any route sees it: Postgres text cannot hold NUL, and
    no parameter needs one."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            query = without_empty_parameters(scope["query_string"])
            if query != scope["query_string"]:
                scope = dict(scope)
                scope["query_string"] = query
            if b"%00" in query:
                for name, value in QueryParams(query).multi_items():
                    if "\x00" in name or "\x00" in value:
                        response = error_response(
                            422,
                            "validation_failed",
                            "Query parameters must not contain NUL (U+0000) characters.",
                            field=name.replace("\x00", "\\u0000"),
                        )
                        await response(scope, receive, send)
                        return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Outermost layer: every answer says `nosniff` and sends no referrer; an HTML page
    gets `html_policy` (see `api.content_security`) and is never framed, any other
    answer the policy that loads nothing."""

    def __init__(self, app: ASGIApp, html_policy: str):
        self.app = app
        self.html = [
            (b"content-security-policy", html_policy.encode()),
            (b"x-frame-options", b"DENY"),
        ]
        self.other = [(b"content-security-policy", API_POLICY.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                html = any(
                    name.lower() == b"content-type" and value.lower().startswith(b"text/html")
                    for name, value in headers
                )
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    *(self.html if html else self.other),
                ]
                message["headers"] = headers + [(n, v) for n, v in extra if n not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)
