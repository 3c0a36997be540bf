"""The backlink check: `POST /api/v1/public/check-backlinks` (anyone, rate-limited per
client IP) and `POST /api/v1/directories/check-backlinks` (paid plans). Both run the
same application service and render the same JSON or CSV."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from adapters.infrastructure import Infrastructure
from adapters.rate_limit import RateLimiter
from adapters.settings import Settings
from api.auth import client_ip, require_api_access
from api.bodies import read_json
from api.csv_export import cell, csv_response, wants_csv
from api.errors import ApiError
from domain.backlink_evidence import CheckResult
from domain.services.check_backlinks import check_backlinks

PUBLIC_BUCKET = "public-check"


class CheckBacklinksBody(msgspec.Struct):
    domain: str
    urls: list[str]


async def _enforce_public_rate(request: Request) -> None:
    infra: Infrastructure = request.app.state.infra
    settings: Settings = request.app.state.settings
    limit = settings.public_check_rate
    retry_after = await RateLimiter(infra.redis, settings).hit(
        PUBLIC_BUCKET, client_ip(request) or "unknown", limit=limit
    )
    if retry_after:
        raise ApiError(
            429,
            "rate_limited",
            f"The public checker allows {limit} checks per minute; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


async def _check(request: Request) -> Response:
    """Parse → run the use case → render. Every refusal is raised before any fetch."""
    body = await read_json(request, CheckBacklinksBody)
    infra: Infrastructure = request.app.state.infra
    report = await check_backlinks(
        body.domain,
        body.urls,
        inspector=infra.page_inspector,
        names=infra.host_names,
        clock=infra.clock,
    )
    if wants_csv(request):
        return csv_response(CSV_COLUMNS, map(csv_row, report.results), filename="backlinks.csv")
    return Response(msgspec.json.encode(report), media_type="application/json")


async def public_check_backlinks(request: Request) -> Response:
    await _enforce_public_rate(request)
    return await _check(request)


async def account_check_backlinks(request: Request) -> Response:
    await require_api_access(request)
    return await _check(request)


# --- CSV (API.md: header = the result fields in order; booleans true/false; null empty) ---

CSV_COLUMNS = [f.encode_name for f in msgspec.structs.fields(CheckResult)]


def csv_row(result: CheckResult) -> list[str]:
    cells: dict[str, object] = {
        f.encode_name: getattr(result, f.name) for f in msgspec.structs.fields(CheckResult)
    }
    cells["redirectChain"] = " | ".join(f"{h.http_status} {h.url}" for h in result.redirect_chain)
    cells["relAttributes"] = " ".join(result.rel_attributes)
    cells["robotsDirectives"] = " ".join(result.robots_directives)
    cells["error"] = result.error.code if result.error else None
    return [cell(cells[name]) for name in CSV_COLUMNS]
