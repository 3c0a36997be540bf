"""`Edge` in place of Starlette's error and exception middleware (`api.middleware.EdgeApp`):
each exception reaches the app's handler for it, whichever way the route is served, and
whatever no handler takes — or a handler's own failure — is the 500 envelope, logged."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from api.middleware import Edge, EdgeApp
from api.routing import IndexedRouter


class Refused(Exception):
    pass


class RefusedLoudly(Refused):
    pass


async def on_refused(request: Request, exc: Exception) -> Response:
    return JSONResponse({"refused": type(exc).__name__}, status_code=409)


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"http": exc.status_code}, status_code=exc.status_code)


async def on_418(request: Request, exc: Exception) -> Response:
    return JSONResponse({"teapot": True}, status_code=418)


async def broken_handler(request: Request, exc: Exception) -> Response:
    raise RuntimeError("the handler itself failed")


class Broken(Exception):
    pass


async def refuse(request: Request) -> Response:
    raise RefusedLoudly()


def refuse_in_a_thread(request: Request) -> Response:  # served by Starlette's Route.handle
    raise Refused()


async def teapot(request: Request) -> Response:
    raise HTTPException(418)


async def gone(request: Request) -> Response:
    raise HTTPException(410)


async def broken(request: Request) -> Response:
    raise Broken()


async def late(request: Request) -> Response:
    async def body():
        yield b"started"
        raise Refused()

    return StreamingResponse(body())


def app() -> EdgeApp:
    table = [
        Route("/refuse", refuse),
        Route("/thread", refuse_in_a_thread),
        Route("/teapot", teapot),
        Route("/gone", gone),
        Route("/broken", broken),
        Route("/late", late),
    ]
    made = EdgeApp(
        routes=table,
        html_policy="default-src 'self'",
        exception_handlers={
            Refused: on_refused,
            HTTPException: on_http,
            418: on_418,
            Broken: broken_handler,
        },
    )
    made.router = IndexedRouter(table)
    return made


async def get(app: Any, path: str) -> tuple[int, list[bytes]]:
    """Status and the body chunks of a GET (0: no answer began)."""
    status, chunks = 0, []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # the client stays
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            assert status == 0, "a second answer began"
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "scheme": "http",
    }
    await app(scope, receive, send)
    return status, chunks


def test_edge_is_the_only_layer_around_the_router() -> None:
    made = app()
    stack = made.build_middleware_stack()
    assert type(stack) is Edge and stack.app is made.router
    with pytest.raises(TypeError):
        EdgeApp(html_policy="", middleware=[Middleware(Edge, "")])


async def test_an_exception_goes_to_the_handler_of_its_nearest_class() -> None:
    status, chunks = await get(app(), "/refuse")
    assert (status, json.loads(b"".join(chunks))) == (409, {"refused": "RefusedLoudly"})


async def test_a_route_starlette_serves_itself_gets_the_same_handlers() -> None:
    status, chunks = await get(app(), "/thread")
    assert (status, json.loads(b"".join(chunks))) == (409, {"refused": "Refused"})


async def test_an_http_exception_goes_to_its_status_handler_first() -> None:
    assert (await get(app(), "/teapot"))[0] == 418
    status, chunks = await get(app(), "/gone")
    assert (status, json.loads(b"".join(chunks))) == (410, {"http": 410})
    assert (await get(app(), "/nowhere"))[0] == 404  # the router's own HTTPException


async def test_a_failing_handler_is_the_500_envelope_and_logged(caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="backlynk.error"):
        status, chunks = await get(app(), "/broken")
    assert status == 500
    assert json.loads(b"".join(chunks))["error"]["code"] == "internal_error"
    assert "the handler itself failed" in caplog.text


async def test_an_exception_after_the_answer_began_is_logged_not_answered_again(caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="backlynk.error"):
        status, chunks = await get(app(), "/late")
    assert (status, chunks[0]) == (200, b"started")  # `get` fails on a second answer
    assert "Refused" in caplog.text
