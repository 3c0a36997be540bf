"""The backlink check: `POST /api/v1/public/check-backlinks` (anyone, rate-limited per
client IP or IPv6 /64) and `POST /api/v1/directories/check-backlinks` (paid plans,
rate-limited per account by plan). Both run the same application service and render the
same JSON or CSV."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal, require_api_access
from api.bodies import read_json
from api.csv_export import cell, csv_response, wants_csv
from api.limits import per_account, per_client, settings_of
from domain.backlink_evidence import CheckResult
from domain.services.check_backlinks import check_backlinks, unique_urls


class CheckBacklinksBody(msgspec.Struct):
    domain: str
    urls: list[str]


async def _enforce_public_rate(request: Request) -> CheckBacklinksBody:
    """Checks, then URLs, per minute per client: both refused (429) before any fetch."""
    settings = settings_of(request)
    checks, urls = settings.public_check_rate, settings.public_check_urls
    await per_client(
        request,
        "public-check",
        limit=checks,
        window_s=60,
        refusal=f"The public checker allows {checks} checks per minute.",
    )
    body = await read_json(request, CheckBacklinksBody)
    await per_client(
        request,
        "public-check-urls",
        limit=urls,
        window_s=60,
        cost=len(unique_urls(body.urls)),  # 422 for bad URLs first: those cost nothing
        refusal=f"The public checker allows {urls} URLs per minute.",
    )
    return body


async def _enforce_account_rate(request: Request, principal: Principal) -> CheckBacklinksBody:
    """The plan's checks, then URLs, per minute per account (domain/plans.py)."""
    plan = principal.plan
    checks, urls = plan.checks_per_minute, plan.check_urls_per_minute
    await per_account(
        request,
        principal.account_id,
        "check",
        limit=checks,
        window_s=60,
        refusal=f"The {plan.name} plan allows {checks} backlink checks per minute.",
    )
    body = await read_json(request, CheckBacklinksBody)
    await per_account(
        request,
        principal.account_id,
        "check-urls",
        limit=urls,
        window_s=60,
        cost=len(unique_urls(body.urls)),
        refusal=f"The {plan.name} plan allows {urls} checked URLs per minute.",
    )
    return body


async def _check(request: Request, body: CheckBacklinksBody) -> Response:
    """Run the use case → render. Every refusal is raised before any fetch."""
    report = await check_backlinks(request.app.state.ports.checks, body.domain, body.urls)
    if wants_csv(request):
        return csv_response(CSV_COLUMNS, map(csv_row, report.results), filename="backlinks.csv")
    return Response(msgspec.json.encode(report), media_type="application/json")


async def public_check_backlinks(request: Request) -> Response:
    return await _check(request, await _enforce_public_rate(request))


async def account_check_backlinks(request: Request) -> Response:
    principal = await require_api_access(request)
    return await _check(request, await _enforce_account_rate(request, principal))


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
