"""The error envelope of API.md and the one table that maps domain errors onto it."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from domain import errors as d


class ErrorBody(msgspec.Struct):
    """`field` is always written: the parameter or body field at fault, or null."""

    code: str
    field: str | None
    details: str


class ErrorEnvelope(msgspec.Struct):
    message: str
    error: ErrorBody


class ApiError(Exception):
    """An error raised by the HTTP layer itself (parsing, auth, routing)."""

    def __init__(
        self,
        status: int,
        code: str,
        details: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(details)
        self.status, self.code, self.details, self.field = status, code, details, field
        self.headers = headers or {}


MESSAGES = {
    400: "Bad request",
    401: "Authentication failed",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}

# domain error class -> HTTP status; the envelope code is the error's own `code`
STATUS_OF: dict[type[d.DomainError], int] = {
    d.ValidationFailed: 422,
    d.NotFound: 404,
    d.Conflict: 409,
    d.ConcurrencyConflict: 409,
    d.AuthenticationFailed: 401,
    d.Forbidden: 403,
    d.RateLimited: 429,
}


def status_for(error: d.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 422


def error_response(
    status: int,
    code: str,
    details: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = ErrorEnvelope(MESSAGES.get(status, "Error"), ErrorBody(code, field, details))
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def headers_for(error: d.DomainError) -> dict[str, str]:
    """Headers that the status requires: how to authenticate (401), when to retry (429)."""
    if isinstance(error, d.AuthenticationFailed):
        return {"WWW-Authenticate": 'Bearer realm="backlynk"'}
    if isinstance(error, d.RateLimited):
        return {"Retry-After": str(error.retry_after)}
    return {}


def from_domain(error: d.DomainError) -> Response:
    return error_response(
        status_for(error),
        error.code,
        error.details,
        field=error.field,
        headers=headers_for(error) or None,
    )


def from_api(error: ApiError) -> Response:
    return error_response(
        error.status, error.code, error.details, field=error.field, headers=error.headers
    )
