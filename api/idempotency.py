"""`Idempotency-Key` on POSTs (API.md): the same key and body within 24 h returns the
first response and does nothing else; the same key with another body is 409
`idempotency_key_reused`. Keys are scoped to the caller and kept in Redis, so any web
process can answer a retry.

A request that is still running holds a short-lived marker; a concurrent retry waits for
its outcome. A crash leaves only the marker, which expires, so the client can retry.
Only successful (2xx) responses are kept: a refused request changed nothing, so running
it again — perhaps corrected — is what the client wants.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import client_ip, require_account
from api.bodies import read_raw
from api.errors import ApiError
from domain.errors import AuthenticationFailed

KEEP_SECONDS = 24 * 3600
RUNNING_SECONDS = 60
WAIT_SECONDS = 10.0


class Stored(msgspec.Struct):
    fingerprint: str
    status: int = 0  # 0 while the first request is running
    media_type: str = "application/json"
    body: bytes = b""
    location: str | None = None


async def idempotent(
    request: Request, caller: str, run: Callable[[], Awaitable[Response]]
) -> Response:
    key = request.headers.get("idempotency-key")
    if key is None:
        return await run()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ApiError(
            422,
            "validation_failed",
            "Idempotency-Key must be 1-255 printable characters.",
            field="Idempotency-Key",
        )
    body = await read_raw(request)
    fingerprint = hashlib.sha256(
        b"\0".join([request.method.encode(), request.url.path.rstrip("/").encode(), body])
    ).hexdigest()
    infra, settings = request.app.state.infra, request.app.state.settings
    redis_key = settings.redis_key("idem", hashlib.sha256(f"{caller}\0{key}".encode()).hexdigest())
    marker = msgspec.msgpack.encode(Stored(fingerprint))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not await infra.redis.set(redis_key, marker, nx=True, ex=RUNNING_SECONDS):
        raw = await infra.redis.get(redis_key)
        if raw is None:
            continue  # expired between the two calls: try to take it again
        stored = msgspec.msgpack.decode(raw, type=Stored)
        if stored.fingerprint != fingerprint:
            raise ApiError(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request; use a new key.",
            )
        if stored.status:
            headers = {"Idempotent-Replayed": "true"}
            if stored.location:
                headers["Location"] = stored.location
            return Response(
                stored.body,
                status_code=stored.status,
                media_type=stored.media_type,
                headers=headers,
            )
        if loop.time() > deadline:
            raise ApiError(
                409,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            )
        await asyncio.sleep(0.05)

    try:
        response = await run()
    except BaseException:
        await infra.redis.delete(redis_key)
        raise
    if not 200 <= response.status_code < 300:
        await infra.redis.delete(redis_key)
        return response
    done = Stored(
        fingerprint,
        response.status_code,
        response.media_type or "application/json",
        bytes(response.body),
        response.headers.get("location"),
    )
    await infra.redis.set(redis_key, msgspec.msgpack.encode(done), ex=KEEP_SECONDS)
    return response


Endpoint = Callable[[Request], Awaitable[Response]]


def idempotent_endpoint(endpoint: Endpoint) -> Endpoint:
    """Give a POST route `Idempotency-Key` support. Keys are scoped to the account that
    sends them (whatever its credential), or to the client address when anonymous."""

    async def wrapped(request: Request) -> Response:
        if "idempotency-key" not in request.headers:
            return await endpoint(request)
        caller = f"ip:{client_ip(request)}"
        if "authorization" in request.headers or "x-api-key" in request.headers:
            try:
                caller = f"account:{(await require_account(request)).account_id.hex}"
            except AuthenticationFailed:
                pass  # the endpoint itself decides whether credentials are required
        return await idempotent(request, caller, lambda: endpoint(request))

    wrapped.__name__ = getattr(endpoint, "__name__", "endpoint")
    wrapped.__doc__ = endpoint.__doc__
    return wrapped
