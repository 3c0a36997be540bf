"""Rate limits of the HTTP layer, counted in Redis (`adapters.rate_limit`): per client (an
IPv4 address or an IPv6 /64) for anonymous endpoints, per account for paid ones. A refusal
is 429 `rate_limited` with `Retry-After` in whole seconds, raised before any work."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request

from adapters.rate_limit import RateLimiter, client_key
from adapters.settings import Settings
from api.auth import client_ip


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def _limiter(request: Request) -> RateLimiter:
    return request.app.state.ports.rate_limiter


async def per_client(
    request: Request, bucket: str, *, limit: int, window_s: int, refusal: str, cost: int = 1
) -> None:
    await _limiter(request).enforce(
        bucket,
        client_key(client_ip(request)),
        limit=limit,
        window_s=window_s,
        cost=cost,
        refusal=refusal,
    )


async def per_account(
    request: Request,
    account_id: UUID,
    bucket: str,
    *,
    limit: int,
    window_s: int,
    refusal: str,
    cost: int = 1,
) -> None:
    await _limiter(request).enforce(
        bucket, account_id.hex, limit=limit, window_s=window_s, cost=cost, refusal=refusal
    )
