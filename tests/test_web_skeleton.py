"""The web skeleton: health probes, the error envelope on every error path, request ids,
JSON access logs."""

from __future__ import annotations

import gzip
import json
import logging

import msgspec
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from api.bodies import read_json
from tests.conftest import LiveServer


class Echo(msgspec.Struct):
    name: str
    count: int = 0


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError("secret internals: password=hunter2")


async def echo(request: Request) -> JSONResponse:
    body = await read_json(request, Echo)
    return JSONResponse(msgspec.to_builtins(body))


@pytest.fixture
async def web(settings, infra):
    app = create_app(settings, infra=infra, in_process_projector=False)
    app.router.routes.extend(
        [Route("/test/boom", boom), Route("/test/echo", echo, methods=["POST"])]
    )
    async with LiveServer(app) as live:
        yield live


def assert_envelope(body: dict, code: str) -> None:
    assert set(body) == {"message", "error"}
    assert set(body["error"]) == {"code", "field", "details"}, body  # field always there
    assert body["error"]["code"] == code
    assert body["error"]["details"]


async def test_healthz_and_readyz(web):
    async with web.http.get("/healthz") as r:
        assert r.status == 200 and await r.json() == {"status": "ok"}
    async with web.http.get("/readyz") as r:
        body = await r.json()
        assert r.status == 200, body
        assert body == {
            "status": "ok",
            "checks": {"postgres": "ok", "redis": "ok", "projections": "ok"},
            "stuck_projections": [],
        }


async def test_readyz_reports_an_unreachable_dependency(settings, infra):
    from redis.asyncio import Redis

    app = create_app(settings, infra=infra, in_process_projector=False)
    healthy_redis = infra.redis
    infra.redis = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        async with LiveServer(app) as live, live.http.get("/readyz") as r:
            assert r.status == 503
            body = await r.json()
            assert body["checks"]["postgres"] == "ok"
            assert body["checks"]["redis"].startswith("unavailable")
    finally:
        await infra.redis.aclose()
        infra.redis = healthy_redis


async def test_unknown_route_is_404_in_the_envelope(web):
    async with web.http.get("/api/v1/nothing-here") as r:
        assert r.status == 404
        assert_envelope(await r.json(), "not_found")


async def test_wrong_method_is_405_in_the_envelope(web):
    async with web.http.delete("/healthz") as r:
        assert r.status == 405
        assert_envelope(await r.json(), "method_not_allowed")


async def test_bad_json_is_400_and_not_an_object_is_400(web):
    async with web.http.post(
        "/test/echo", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
        assert_envelope(await r.json(), "invalid_json")
    async with web.http.post("/test/echo", json=[1, 2]) as r:
        assert r.status == 400
        assert_envelope(await r.json(), "invalid_json")


async def test_wrong_type_is_422_naming_the_field_and_unknown_fields_are_ignored(web):
    async with web.http.post("/test/echo", json={"name": "x", "count": "three"}) as r:
        assert r.status == 422
        body = await r.json()
        assert_envelope(body, "validation_failed")
        assert body["error"]["field"] == "count"
    async with web.http.post("/test/echo", json={"count": 1}) as r:
        assert r.status == 422
        assert (await r.json())["error"]["field"] == "name"
    async with web.http.post("/test/echo", json={"name": "x", "extra": True}) as r:
        assert r.status == 200 and await r.json() == {"name": "x", "count": 0}


async def test_other_media_type_is_415_and_big_body_is_413(web):
    async with web.http.post(
        "/test/echo", data=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as r:
        assert r.status == 415
        assert_envelope(await r.json(), "unsupported_media_type")
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    async with web.http.post(
        "/test/echo", data=big, headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 413
        assert_envelope(await r.json(), "payload_too_large")


async def test_a_compressed_body_is_415_not_misread_as_broken_json(web):
    """The API reads bodies as sent: a `Content-Encoding` it does not apply is refused with
    a reason (RFC 7694), not decoded as if it were plain JSON (API.md is silent)."""
    plain = json.dumps({"name": "x"}).encode()
    for encoding, data in (("gzip", gzip.compress(plain)), ("br", plain)):
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        async with web.http.post("/test/echo", data=data, headers=headers) as r:
            assert r.status == 415
            body = await r.json()
            assert_envelope(body, "unsupported_media_type")
            assert "Content-Encoding" in body["error"]["details"]
    for encoding in ("identity", ""):
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        async with web.http.post("/test/echo", data=plain, headers=headers) as r:
            assert r.status == 200


async def test_an_exception_is_a_500_with_the_request_id_and_no_trace(web, caplog):
    with caplog.at_level(logging.ERROR, logger="backlynk.error"):
        async with web.http.get("/test/boom", headers={"X-Request-Id": "trace-me-42"}) as r:
            assert r.status == 500
            assert r.headers["X-Request-Id"] == "trace-me-42"
            text = await r.text()
    body = json.loads(text)
    assert_envelope(body, "internal_error")
    assert "trace-me-42" in body["error"]["details"]
    assert "hunter2" not in text and "Traceback" not in text
    assert any("trace-me-42" in rec.getMessage() for rec in caplog.records)  # logged


async def test_every_response_carries_a_request_id_and_is_access_logged(web, caplog):
    with caplog.at_level(logging.INFO, logger="backlynk.access"):
        async with web.http.get("/healthz") as r:
            generated = r.headers["X-Request-Id"]
            assert generated.startswith("req_")
        async with web.http.get("/missing", headers={"X-Request-Id": "abc"}) as r:
            assert r.headers["X-Request-Id"] == "abc"
    lines = [
        json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "backlynk.access"
    ]
    assert {
        "request_id": "abc",
        "method": "GET",
        "path": "/missing",
        "status": 404,
    }.items() <= lines[-1].items()
    assert lines[-2]["request_id"] == generated and "duration_ms" in lines[-2]


async def test_trailing_slash_reaches_the_same_route(web):
    async with web.http.get("/healthz/") as r:
        assert r.status == 200
