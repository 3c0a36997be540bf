"""Idempotency-Key: a retried POST returns the first response and does nothing else."""

from __future__ import annotations

import asyncio
import itertools

import msgspec
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from api.bodies import read_json
from api.errors import ApiError
from api.idempotency import idempotent
from tests.conftest import LiveServer


class Order(msgspec.Struct):
    item: str


@pytest.fixture
async def web(settings, infra):
    counter = itertools.count(1)
    ran: list[str] = []

    async def create(request: Request) -> Response:
        async def run() -> Response:
            order = await read_json(request, Order)
            if order.item == "refuse":
                raise ApiError(422, "validation_failed", "no such item", field="item")
            await asyncio.sleep(0.2)  # slow enough for a concurrent retry to overlap
            ran.append(order.item)
            n = next(counter)
            return Response(
                msgspec.json.encode({"id": n, "item": order.item}),
                status_code=201,
                media_type="application/json",
            )

        return await idempotent(request, request.headers.get("x-caller", "anon"), run)

    app = create_app(settings, infra=infra, in_process_projector=False)
    app.router.routes.append(Route("/test/orders", create, methods=["POST"]))
    async with LiveServer(app) as live:
        live.ran = ran
        yield live


async def post(web, body, key, caller="a"):
    async with web.http.post(
        "/test/orders", json=body, headers={"Idempotency-Key": key, "x-caller": caller}
    ) as r:
        return r.status, await r.json(), r.headers.get("Idempotent-Replayed")


async def test_same_key_and_body_returns_the_first_response_and_runs_once(web):
    first = await post(web, {"item": "book"}, "k1")
    again = await post(web, {"item": "book"}, "k1")
    assert first[:2] == again[:2] == (201, {"id": 1, "item": "book"})
    assert again[2] == "true" and web.ran == ["book"]


async def test_same_key_other_body_is_409(web):
    await post(web, {"item": "book"}, "k2")
    status, body, _ = await post(web, {"item": "pen"}, "k2")
    assert status == 409 and body["error"]["code"] == "idempotency_key_reused"
    assert web.ran == ["book"]


async def test_concurrent_retries_wait_for_the_first_and_run_once(web):
    results = await asyncio.gather(*(post(web, {"item": "lamp"}, "k3") for _ in range(5)))
    assert {r[1]["id"] for r in results} == {1} and web.ran == ["lamp"]


async def test_keys_are_scoped_to_the_caller(web):
    a = await post(web, {"item": "book"}, "shared", caller="alice")
    b = await post(web, {"item": "book"}, "shared", caller="bob")
    assert a[1]["id"] != b[1]["id"] and web.ran == ["book", "book"]


async def test_a_refused_request_is_not_kept_so_a_corrected_retry_runs(web):
    status, _, _ = await post(web, {"item": "refuse"}, "k4")
    assert status == 422
    status, _, _ = await post(web, {"item": "fixed"}, "k4")
    assert status == 201 and web.ran == ["fixed"]


async def test_same_key_with_another_query_string_or_accept_is_409(web):
    key = {"Idempotency-Key": "k5", "x-caller": "a"}
    async with web.http.post("/test/orders?copy=1", json={"item": "cup"}, headers=key) as r:
        first = (r.status, await r.read())
    for path, accept in [
        ("/test/orders?copy=2", None),
        ("/test/orders", None),
        ("/test/orders?copy=1", "text/csv"),
    ]:
        headers = {**key, **({"Accept": accept} if accept else {})}
        async with web.http.post(path, json={"item": "cup"}, headers=headers) as r:
            assert r.status == 409, path
            assert (await r.json())["error"]["code"] == "idempotency_key_reused"
    async with web.http.post("/test/orders?copy=1", json={"item": "cup"}, headers=key) as r:
        assert (r.status, await r.read()) == first and r.headers["Idempotent-Replayed"] == "true"
    assert web.ran == ["cup"]


async def test_without_the_server_secret_a_stored_answer_cannot_be_found_or_opened(web):
    from cryptography.exceptions import InvalidTag

    from api.idempotency import Answer, Keys

    right = Keys.derive("the-server-secret", "account:1", "k")
    wrong = Keys.derive("another-secret", "account:1", "k")
    assert right.name != wrong.name  # the Redis key name itself depends on the secret
    sealed = right.seal(Answer(201, [], b'{"token": "t"}'), b"fp")
    assert right.open(sealed, b"fp").body == b'{"token": "t"}'
    with pytest.raises(InvalidTag):
        wrong.open(sealed, b"fp")
    with pytest.raises(InvalidTag):  # bound to its request's fingerprint too
        right.open(sealed, b"other")


@pytest.fixture
async def anonymous_web(isolated_settings, infra):
    """A route behind the real `idempotent_endpoint`: callers without credentials are
    scoped to their address; `size` sets the answer's size."""
    from api.idempotency import idempotent_endpoint

    ran: list[int] = []

    async def answer(request: Request) -> Response:
        size = int(request.query_params["size"])
        ran.append(size)
        return Response(b"x" * size, status_code=200, media_type="text/plain")

    app = create_app(isolated_settings, infra=infra, in_process_projector=False)
    app.router.routes.append(Route("/test/answer", idempotent_endpoint(answer), methods=["POST"]))
    async with LiveServer(app) as live:
        live.ran = ran
        yield live


async def test_an_anonymous_answer_over_64_kb_is_not_kept_so_a_retry_runs_again(
    anonymous_web, infra, isolated_settings
):
    from api.idempotency import ANONYMOUS_MAX_ANSWER

    for size in (ANONYMOUS_MAX_ANSWER, ANONYMOUS_MAX_ANSWER + 1):
        for _ in range(2):
            async with anonymous_web.http.post(
                f"/test/answer?size={size}", headers={"Idempotency-Key": f"big-{size}"}
            ) as r:
                assert r.status == 200 and len(await r.read()) == size
    assert anonymous_web.ran == [ANONYMOUS_MAX_ANSWER] + [ANONYMOUS_MAX_ANSWER + 1] * 2
    kept = [k async for k in infra.redis.scan_iter(f"{isolated_settings.redis_namespace}:idem:*")]
    assert len(kept) == 1  # only the answer within the cap


async def test_an_anonymous_client_opens_a_bounded_number_of_keys(
    anonymous_web, monkeypatch, infra, isolated_settings
):
    from api import idempotency

    monkeypatch.setattr(idempotency, "ANONYMOUS_KEYS", 3)
    for i in range(3):
        async with anonymous_web.http.post(
            "/test/answer?size=1", headers={"Idempotency-Key": f"n{i}"}
        ) as r:
            assert r.status == 200
    async with anonymous_web.http.post(
        "/test/answer?size=1", headers={"Idempotency-Key": "n3"}
    ) as r:
        body = await r.json()
        assert r.status == 429 and body["error"]["code"] == "rate_limited"
        assert 86000 < int(r.headers["Retry-After"]) <= 86400
    # a retry of a key it holds still answers; without a key the request runs as usual
    async with anonymous_web.http.post(
        "/test/answer?size=1", headers={"Idempotency-Key": "n0"}
    ) as r:
        assert r.status == 200 and r.headers["Idempotent-Replayed"] == "true"
    async with anonymous_web.http.post("/test/answer?size=2") as r:
        assert r.status == 200
    assert anonymous_web.ran == [1, 1, 1, 2]
    kept = [k async for k in infra.redis.scan_iter(f"{isolated_settings.redis_namespace}:idem:*")]
    assert len(kept) == 3


@pytest.mark.parametrize("key", ["caf\u00e9", "x" * 256])
async def test_a_key_outside_the_documented_rule_is_422_naming_the_header(web, key):
    """The route and the OpenAPI document read one rule: 1-255 printable ASCII."""
    status, body, _ = await post(web, {"item": "book"}, key)
    assert status == 422 and body["error"]["field"] == "Idempotency-Key"
    assert web.ran == []


def test_the_document_shows_the_rule_the_routes_apply():
    from api.openapi import IDEMPOTENCY_KEY

    schema = IDEMPOTENCY_KEY["schema"]
    assert (schema["minLength"], schema["maxLength"]) == (1, 255)
    assert schema["pattern"] == "^[\\x20-\\x7e]+$"
