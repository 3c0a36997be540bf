"""The Starlette application."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from adapters.auth_ports import auth_ports
from adapters.credential_cache import CachedCredentials
from adapters.infrastructure import Infrastructure, open_infrastructure
from adapters.settings import Settings
from adapters.site_urls import SiteUrlRules
from api import (
    api_keys,
    backlinks,
    checker,
    coverage,
    directories,
    health,
    jobs,
    openapi,
    sessions,
    sites,
    tools,
    users,
)
from api.content_security import html_policy, page_sources
from api.errors import ApiError, error_response, from_api, from_domain
from api.idempotency import Endpoint, idempotent_endpoint
from api.middleware import OptionalTrailingSlash, QueryText, RequestContext, SecurityHeaders
from domain.errors import DomainError
from projections.base import Projection
from projections.registry import all_projections
from projections.runner import ProjectorRunner

log = logging.getLogger("backlynk.api")

HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    details = {
        404: f"No route matches {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers or {})
    return error_response(exc.status_code, code, details, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return from_api(exc)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return from_domain(exc)


def _one_route_per_path(table: list[tuple[str, str, Endpoint]]) -> list[Route]:
    """One `Route` per path, dispatching on the method: Starlette answers a wrong method
    with the `Allow` of the first route matching the path, so a path split over several
    routes would list only some of its methods in the 405 (RFC 9110 wants them all)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for method, path, endpoint in table:
        by_path.setdefault(path, {})[method] = endpoint
    out = []
    for path, endpoints in by_path.items():
        if len(endpoints) == 1:
            [(method, endpoint)] = endpoints.items()
            out.append(Route(path, endpoint, methods=[method]))
            continue

        async def dispatch(
            request: Request, endpoints: dict[str, Endpoint] = endpoints
        ) -> Response:
            method = "GET" if request.method == "HEAD" else request.method
            return await endpoints[method](request)

        out.append(Route(path, dispatch, methods=list(endpoints)))
    return out


def routes() -> list[BaseRoute]:
    """Every route. POSTs take `Idempotency-Key` (API.md), so they are made in one place."""
    get, patch, delete = "GET", "PATCH", "DELETE"

    def post(path: str, endpoint: Endpoint) -> tuple[str, str, Endpoint]:
        return ("POST", path, idempotent_endpoint(endpoint))

    return [
        *_one_route_per_path(
            [
                (get, "/healthz", health.healthz),
                (get, "/readyz", health.readyz),
                (get, "/api/v1/openapi.json", openapi.openapi_json),
                (get, "/docs", openapi.docs),
                (get, "/api/v1/public/coverage", coverage.coverage),
                post("/api/v1/auth/register", sessions.register),
                post("/api/v1/auth/login", sessions.login),
                post("/api/v1/auth/refresh", sessions.refresh),
                post("/api/v1/auth/logout", sessions.logout),
                (get, "/api/v1/users/me", users.me),
                post("/api/v1/api-keys", api_keys.create),
                (get, "/api/v1/api-keys", api_keys.index),
                (delete, "/api/v1/api-keys/{key_id}", api_keys.revoke),
                post("/api/v1/sites", sites.create),
                (get, "/api/v1/sites", sites.index),
                (get, "/api/v1/sites/{site_id}", sites.show),
                (patch, "/api/v1/sites/{site_id}", sites.update),
                (delete, "/api/v1/sites/{site_id}", sites.archive),
                (get, "/api/v1/directories", directories.index),
                (get, "/api/v1/directories/{directory_id:int}", directories.show),
                (get, "/api/v1/backlinks", backlinks.index),
                post("/api/v1/jobs", jobs.create),
                (get, "/api/v1/jobs", jobs.index),
                (get, "/api/v1/jobs/{job_id}", jobs.show),
                post("/api/v1/jobs/{job_id}/cancel", jobs.cancel),
                (get, "/api/v1/jobs/{job_id}/events", jobs.events),
                post("/api/v1/public/check-backlinks", checker.public_check_backlinks),
                post("/api/v1/directories/check-backlinks", checker.account_check_backlinks),
            ]
        ),
        *tools.routes(),
    ]


def create_app(
    settings: Settings,
    *,
    infra: Infrastructure | None = None,
    in_process_projector: bool | None = None,
    projections: Sequence[Projection] | None = None,
) -> Starlette:
    """`in_process_projector` (default: settings.dev) runs the projector inside the web
    process, as `backlynk serve --dev` and the tests do, so reads follow writes at once."""
    run_projector = settings.dev if in_process_projector is None else in_process_projector
    chosen = list(projections) if projections is not None else all_projections(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = infra is None
        app.state.infra = infra or await open_infrastructure(settings)
        app.state.settings = settings
        app.state.projections = chosen
        credentials = await CachedCredentials.start_for(app.state.infra)
        app.state.auth = auth_ports(app.state.infra, settings, credentials=credentials)
        app.state.clock = app.state.infra.clock
        app.state.site_urls = SiteUrlRules(app.state.infra.page_inspector, app.state.clock)
        runner = None
        if run_projector:
            runner = ProjectorRunner(
                settings.database_url, app.state.infra.store, chosen, poll_interval=0.2
            )
            await runner.start()
        try:
            yield
        finally:
            if runner:
                await runner.stop()
            await credentials.stop()
            if own:
                await app.state.infra.close()

    return Starlette(
        routes=routes(),
        middleware=[
            # the inline scripts and styles of every page, hashed at start-up
            Middleware(SecurityHeaders, html_policy([*page_sources(), openapi.docs_html()])),
            Middleware(RequestContext),
            Middleware(OptionalTrailingSlash),
            Middleware(QueryText),
        ],
        exception_handlers={
            HTTPException: _http_exception,
            ApiError: _api_error,
            DomainError: _domain_error,
        },
        lifespan=lifespan,
    )
