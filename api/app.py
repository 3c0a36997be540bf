"""The Starlette application."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from adapters.credential_cache import CachedCredentials
from adapters.directories import CATALOGUE
from adapters.infrastructure import Infrastructure, open_infrastructure
from adapters.job_feed import JobFeed
from adapters.read_model_feed import ReadModelFeed
from adapters.read_versions import ReadVersions
from adapters.settings import Settings
from adapters.wiring import wire
from api import metrics, openapi, web
from api.auth import require_account, require_api_access
from api.content_security import html_policy, page_sources
from api.errors import ApiError, error_response, from_api, from_domain
from api.idempotency import Endpoint, idempotent_endpoint
from api.middleware import EdgeApp
from api.operations import OPERATIONS, PAID, Operation
from api.read_cache import ReadCache, cached_endpoint
from api.routing import IndexedRouter
from domain.errors import DomainError
from projections.base import Projection, owners
from projections.registry import all_projections, read_models
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


def _one_route_per_path(operations: Sequence[Operation]) -> list[Route]:
    """One `Route` per path, dispatching on the method: Starlette answers a wrong method
    with the `Allow` of the first route matching the path, so a path split over several
    routes would list only some of its methods in the 405 (RFC 9110 wants them all)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for op in operations:
        endpoint = idempotent_endpoint(op.handler) if op.idempotent else op.handler
        if op.cached is not None:
            authorize = require_api_access if op.access is PAID else require_account
            endpoint = cached_endpoint(endpoint, authorize, op.cached, csv=op.csv)
        by_path.setdefault(op.path, {})[op.method] = endpoint
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
    """Every route, from the operation table (`api.operations`), `/metrics` (kept out of
    the API's table and document: it is the operator's) and the pages for people
    (`api.web`: not API operations either)."""
    return [*_one_route_per_path(OPERATIONS), *metrics.routes(), *web.routes()]


def freeze_what_start_up_made() -> None:
    """Every object alive once the app has started (modules, routes, the OpenAPI document,
    templates, pools: most of the heap, and there for good) is moved out of the cyclic
    garbage collector's reach. Left in, a full collection walked them all: 50-55 ms with
    every request of the process waiting, more than once a second under load, which was
    the p99 of cached reads (`bench/api.py`: 52 ms; frozen, 12-17 ms). Reference counting
    still frees them; only cycles among them would stay, and start-up made none worth
    collecting (collected first)."""
    gc.collect()
    gc.freeze()


def told_models() -> set[str]:
    """The read models whose changes are told to the web processes, per account
    (`adapters.read_model_feed`): the only ones whose answers may be kept."""
    return {p.name for p in read_models() if owners(p)} | {CATALOGUE}


def check_cached_models(operations: Sequence[Operation]) -> None:
    """An operation may keep answers made only of models whose changes are told: of any
    other, a kept answer would never go stale in the cache's eyes. One that shares its
    answers between accounts, only of models whose every change is told for every account
    (the catalogue): a change told for one account would not reach the others' copy."""
    told = told_models()
    for op in operations:
        if op.cached is None:
            continue
        if untold := set(op.cached.models) - told:
            raise RuntimeError(f"{op.method} {op.path} keeps answers of untold {untold}")
        if op.cached.shared and (own := set(op.cached.models) - {CATALOGUE}):
            raise RuntimeError(f"{op.method} {op.path} shares answers of per-account {own}")


def read_cache(infra: Infrastructure, settings: Settings) -> ReadCache | None:
    """The process's cache of repeated reads (`api.read_cache`): none when its budget is
    0, or when reads go to a replica (its models may trail the primary, whose changes
    are told, and an answer kept from it would stay that far behind)."""
    if settings.read_cache_mb <= 0 or infra.read_pool is not infra.pool:
        return None
    return ReadCache(
        ReadVersions(infra.primary_reads),
        ReadModelFeed(settings.database_url),
        settings.read_cache_mb * 1024 * 1024,
    )


def create_app(
    settings: Settings,
    *,
    infra: Infrastructure | None = None,
    in_process_projector: bool | None = None,
    projections: Sequence[Projection] | None = None,
    freeze_start_up: bool = False,
) -> Starlette:
    """`in_process_projector` (default: settings.dev) runs the projector inside the web
    process, as `backlynk serve --dev` and the tests do, so reads follow writes at once.
    `freeze_start_up` (what `backlynk serve` asks for): see `freeze_what_start_up_made`."""
    run_projector = settings.dev if in_process_projector is None else in_process_projector

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = infra is None
        app.state.infra = infra or await open_infrastructure(settings)
        app.state.settings = settings
        cache = app.state.read_cache = read_cache(app.state.infra, settings)
        if cache is not None:
            await cache.feed.start()
        credentials = await CachedCredentials.start_for(
            app.state.infra, None if cache is None else cache.versions
        )
        job_feed = app.state.job_feed = JobFeed(
            settings.database_url,
            max_streams=settings.max_streams,
            max_per_account=settings.streams_per_account,
        )
        job_feed.start()
        ports = app.state.ports = wire(app.state.infra, settings, credentials=credentials)
        # the handlers' short names for what they use most
        app.state.auth, app.state.clock = ports.auth, ports.clock
        app.state.site_urls = ports.site_urls
        chosen = list(projections) if projections is not None else all_projections(ports.queue)
        app.state.projections = chosen
        runner = None
        if run_projector:
            runner = ProjectorRunner(
                settings.database_url, app.state.infra.store, chosen, poll_interval=0.2
            )
            await runner.start()
        if freeze_start_up:
            freeze_what_start_up_made()
        try:
            yield
        finally:
            if runner:
                await runner.stop()
            await ports.close()
            await credentials.stop()
            await job_feed.stop()
            if cache is not None:
                await cache.feed.stop()
            if own:
                await app.state.infra.close()

    check_cached_models(OPERATIONS)
    docs_page = openapi.docs_html(OPERATIONS)
    app = EdgeApp(
        routes=routes(),
        # the inline scripts and styles of every page, hashed at start-up
        html_policy=html_policy([*page_sources(), docs_page]),
        exception_handlers={
            HTTPException: _http_exception,
            ApiError: _api_error,
            DomainError: _domain_error,
        },
        lifespan=lifespan,
    )
    app.router = IndexedRouter(app.router.routes, lifespan=lifespan)
    app.state.openapi = openapi.document_bytes(OPERATIONS)
    app.state.docs_page = docs_page
    return app
