"""Every error, from every layer, is API.md's envelope with `field` always present: the
parameter or body field at fault, or `null` when none is (routing, auth, plan, conflicts,
body limits, rate limits, unexpected exceptions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.throttle import MAX_FAILURES_PER_EMAIL
from api.app import create_app
from tests.accounts import PASSWORD, bearer, paid_account, register, unique_email
from tests.conftest import LiveServer


async def boom(request: Request) -> Response:
    raise RuntimeError("an unexpected bug")


@pytest.fixture
async def app_server(isolated_settings, infra) -> AsyncIterator[LiveServer]:
    app = create_app(isolated_settings, infra=infra, in_process_projector=True)
    app.router.routes.append(Route("/test/boom", boom))
    async with LiveServer(app) as live:
        yield live


async def call(server: LiveServer, method: str, path: str, **kw: Any) -> tuple[int, dict]:
    async with server.http.request(method, path, **kw) as r:
        assert r.content_type == "application/json", (method, path, await r.text())
        return r.status, await r.json()


async def test_every_error_path_carries_field(app_server: LiveServer, infra):
    s = app_server
    free = await register(s)
    pro = await paid_account(s, infra, "pro")
    taken = unique_email()
    await register(s, taken)
    login = "/api/v1/auth/login"
    throttled = unique_email()
    await register(s, throttled)
    for _ in range(MAX_FAILURES_PER_EMAIL):
        await call(s, "POST", login, json={"email": throttled, "password": "wrong password!"})
    await call(
        s,
        "POST",
        login,
        json={"email": taken, "password": PASSWORD},
        headers={"Idempotency-Key": "k1"},
    )
    json_type = {"Content-Type": "application/json"}

    # (status, code, field) each request must answer
    cases: list[tuple[tuple[str, str, dict[str, Any]], int, str, str | None]] = [
        (("GET", "/api/v1/nothing-here", {}), 404, "not_found", None),
        (("DELETE", "/healthz", {}), 405, "method_not_allowed", None),
        (("PUT", "/api/v1/jobs", {"headers": bearer(pro)}), 405, "method_not_allowed", None),
        (("GET", "/api/v1/users/me", {}), 401, "authentication_required", None),
        (
            ("GET", "/api/v1/sites", {"headers": {"Authorization": "Bearer nope"}}),
            401,
            "invalid_token",
            None,
        ),
        (
            ("GET", "/api/v1/sites", {"headers": {"x-api-key": "bk_live_nope"}}),
            401,
            "invalid_api_key",
            None,
        ),
        (
            ("POST", "/api/v1/auth/refresh", {"json": {"refresh_token": "nope"}}),
            401,
            "invalid_token",
            "refresh_token",
        ),
        (("GET", "/api/v1/sites", {"headers": bearer(free)}), 403, "plan_required", None),
        (("GET", "/api/v1/jobs/job_nope", {"headers": bearer(pro)}), 404, "not_found", None),
        (("GET", "/api/v1/directories/999", {"headers": bearer(pro)}), 404, "not_found", None),
        (
            ("POST", "/api/v1/auth/register", {"json": {"email": taken, "password": PASSWORD}}),
            409,
            "email_taken",
            "email",
        ),
        (
            (
                "POST",
                login,
                {"json": {"email": taken, "password": "y"}, "headers": {"Idempotency-Key": "k1"}},
            ),
            409,
            "idempotency_key_reused",
            None,
        ),
        (("POST", login, {"data": b"{not json", "headers": json_type}), 400, "invalid_json", None),
        (
            ("POST", login, {"data": b"email=x", "headers": {"Content-Type": "text/plain"}}),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            ("POST", login, {"data": b"[" + b" " * (1024 * 1024) + b"]", "headers": json_type}),
            413,
            "payload_too_large",
            None,
        ),
        (
            (
                "POST",
                "/api/v1/auth/register",
                {"json": {"email": unique_email(), "password": "short"}},
            ),
            422,
            "validation_failed",
            "password",
        ),
        (
            ("GET", "/api/v1/jobs?status=done", {"headers": bearer(pro)}),
            422,
            "validation_failed",
            "status",
        ),
        (("GET", "/api/v1/jobs?q=%00", {"headers": bearer(pro)}), 422, "validation_failed", "q"),
        (
            ("POST", login, {"json": {"email": throttled, "password": PASSWORD}}),
            429,
            "rate_limited",
            None,
        ),
        (("GET", "/test/boom", {}), 500, "internal_error", None),
    ]
    for (method, path, kw), status, code, field in cases:
        got_status, body = await call(s, method, path, **kw)
        assert set(body) == {"message", "error"}, (path, body)
        assert set(body["error"]) == {"code", "field", "details"}, (path, body)
        assert (got_status, body["error"]["code"], body["error"]["field"]) == (
            status,
            code,
            field,
        ), (method, path, body)
        assert body["message"] and body["error"]["details"]


async def test_the_openapi_document_requires_field_in_the_envelope(app_server: LiveServer):
    _, doc = await call(app_server, "GET", "/api/v1/openapi.json")
    body = doc["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"code", "field", "details"}
