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
from tests.conftest import LiveServer, free_port


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
    async with LiveServer(app, free_port()) as live:
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
