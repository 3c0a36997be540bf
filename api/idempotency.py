"""`Idempotency-Key` on POSTs (API.md): the same key and request (method, path, query
string, `Accept`, body) within 24 h returns the first response byte for byte and does
nothing else; the same key with another request is 409 `idempotency_key_reused`. Keys are
scoped to the caller and kept in Redis, so any web process can answer a retry.

A request that is still running holds a short-lived marker; a concurrent retry waits for
its outcome. A crash leaves only the marker, which expires, so the client can retry.
Only successful (2xx) responses are kept: a refused request changed nothing, so running
it again — perhaps corrected — is what the client wants.

Nothing secret is at rest in the clear: answers hold tokens and API keys, so each is
sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the server secret, the
caller and the Idempotency-Key. The Redis key name and the request fingerprint are
derived from the same secret too, so Redis alone tells nothing (not even whose record
it is, nor allows guessing a password from a login body's hash).

Strangers cannot fill Redis: an anonymous client opens at most `ANONYMOUS_KEYS` keys per
24 h (then 429), and an anonymous answer over `ANONYMOUS_MAX_ANSWER` bytes is not kept
(only the public check can be that large; it changes nothing, so a retry runs it again).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Annotated

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

from adapters.rate_limit import RateLimiter, client_key
from api.auth import client_ip, require_account
from api.bodies import read_raw
from api.errors import ApiError
from domain.errors import AuthenticationFailed

KEEP_SECONDS = 24 * 3600
RUNNING_SECONDS = 60
WAIT_SECONDS = 10.0
#: new Idempotency-Keys an anonymous client (one address) may open per 24 h
ANONYMOUS_KEYS = 200
#: an anonymous answer larger than this is not kept (a retry runs the request again)
ANONYMOUS_MAX_ANSWER = 64 * 1024

_SALT = b"backlynk idempotency v1"

#: what an Idempotency-Key may be: 1-255 printable ASCII characters. The one rule, read by
#: `idempotent` and shown by the OpenAPI document.
IdempotencyKey = Annotated[
    str, msgspec.Meta(min_length=1, max_length=255, pattern="^[\\x20-\\x7e]+$")
]


class Stored(msgspec.Struct):
    #: HMAC of the request under a secret-derived key
    fingerprint: bytes
    #: nonce + AES-GCM ciphertext of an `Answer`; empty while the first request runs
    sealed: bytes = b""


class Answer(msgspec.Struct):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class Keys(msgspec.Struct, frozen=True):
    name: str  # the Redis key's last part
    mac: bytes
    aead: bytes

    @classmethod
    def derive(cls, secret: str, caller: str, key: str) -> Keys:
        okm = HKDF(
            algorithm=hashes.SHA256(),
            length=80,
            salt=_SALT,
            info=f"{caller}\0{key}".encode(),
        ).derive(secret.encode())
        return cls(name=okm[64:].hex(), mac=okm[32:64], aead=okm[:32])

    def fingerprint(self, request: Request, body: bytes) -> bytes:
        """Every part of the request that makes it "the same": length-prefixed by msgpack,
        keyed so that a stored fingerprint of a login body cannot be brute-forced."""
        parts = [
            request.method,
            request.url.path.rstrip("/"),
            request.scope.get("query_string", b""),
            ",".join(request.headers.getlist("accept")),
            body,
        ]
        return hmac.digest(self.mac, msgspec.msgpack.encode(parts), hashlib.sha256)

    def seal(self, answer: Answer, fingerprint: bytes) -> bytes:
        nonce = os.urandom(12)
        plain = msgspec.msgpack.encode(answer)
        return nonce + AESGCM(self.aead).encrypt(nonce, plain, self.name.encode() + fingerprint)

    def open(self, sealed: bytes, fingerprint: bytes) -> Answer:
        plain = AESGCM(self.aead).decrypt(
            sealed[:12], sealed[12:], self.name.encode() + fingerprint
        )
        return msgspec.msgpack.decode(plain, type=Answer)


def _replay(answer: Answer) -> Response:
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [
        *answer.headers,
        (b"content-length", str(len(answer.body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    return response


def _kept(response: Response) -> Answer | None:
    body = getattr(response, "body", None)  # a streamed answer has none: not kept
    if not isinstance(body, bytes | memoryview):
        return None
    headers = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-length"]
    return Answer(response.status_code, headers, bytes(body))


async def _open_anonymous_key(request: Request) -> None:
    """Count a new key of an anonymous client; 429 beyond `ANONYMOUS_KEYS` a day."""
    limiter: RateLimiter = request.app.state.ports.rate_limiter
    await limiter.enforce(
        "idempotency-keys",
        client_key(client_ip(request) or "unknown"),
        limit=ANONYMOUS_KEYS,
        window_s=KEEP_SECONDS,
        refusal=(
            f"A client without credentials may use {ANONYMOUS_KEYS} Idempotency-Keys a day"
            " (a request without one is not limited by this)."
        ),
    )


async def idempotent(
    request: Request,
    caller: str,
    run: Callable[[], Awaitable[Response]],
    *,
    anonymous: bool = False,
) -> Response:
    key = request.headers.get("idempotency-key")
    if key is None:
        return await run()
    try:
        msgspec.convert(key, IdempotencyKey)
    except msgspec.ValidationError:
        raise ApiError(
            422,
            "validation_failed",
            "Idempotency-Key must be 1-255 printable ASCII characters.",
            field="Idempotency-Key",
        ) from None
    body = await read_raw(request)
    infra, settings = request.app.state.infra, request.app.state.settings
    keys = Keys.derive(settings.signing_secret, caller, key)
    fingerprint = keys.fingerprint(request, body)
    redis_key = settings.redis_key("idem", keys.name)
    marker = msgspec.msgpack.encode(Stored(fingerprint))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not await infra.redis.set(redis_key, marker, nx=True, ex=RUNNING_SECONDS):
        raw = await infra.redis.get(redis_key)
        if raw is None:
            continue  # expired between the two calls: try to take it again
        stored = msgspec.msgpack.decode(raw, type=Stored)
        if not hmac.compare_digest(stored.fingerprint, fingerprint):
            raise ApiError(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request; use a new key.",
            )
        if stored.sealed:
            return _replay(keys.open(stored.sealed, fingerprint))
        if loop.time() > deadline:
            raise ApiError(
                409,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            )
        await asyncio.sleep(0.05)

    try:
        if anonymous:
            await _open_anonymous_key(request)
        response = await run()
    except BaseException:
        await infra.redis.delete(redis_key)
        raise
    answer = _kept(response) if 200 <= response.status_code < 300 else None
    if answer is None or (anonymous and len(answer.body) > ANONYMOUS_MAX_ANSWER):
        await infra.redis.delete(redis_key)
        return response
    done = Stored(fingerprint, keys.seal(answer, fingerprint))
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
        return await idempotent(
            request, caller, lambda: endpoint(request), anonymous=caller.startswith("ip:")
        )

    wrapped.__name__ = getattr(endpoint, "__name__", "endpoint")
    wrapped.__doc__ = endpoint.__doc__
    return wrapped
