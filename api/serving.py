"""One web process of `backlynk serve` with `WEB_CONCURRENCY` > 1: uvicorn starts each
worker process with `app()` (a factory), from the environment the command checked."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters import parsing_pool
from adapters import settings as settings_module
from api.app import create_app


class WithParsingPool:
    """The process's parsing pool lives as long as the app: warmed before it serves,
    stopped when it has shut down."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        parsing_pool.warm()
        try:
            await self.app(scope, receive, send)
        finally:
            parsing_pool.shutdown()


def app() -> ASGIApp:
    return WithParsingPool(create_app(settings_module.load()))
