"""`/api/v1/webhooks`: create (the signing secret is shown once), list, delete; a webhook's
deliveries, and sending one again."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_api_access
from api.bodies import read_json
from api.consistency import settle
from api.pagination import paginate
from api.public_ids import path_id
from api.queries import page_request
from api.rendering import json_response, no_content
from domain import ids
from domain.errors import NotFound
from domain.ports import WebhookPorts
from domain.services.webhooks import (
    create_webhook,
    delete_webhook,
    own_webhook,
    request_redelivery,
)
from domain.webhook import webhook_not_found
from projections.views import by_name
from projections.webhooks import (
    DeliveryView,
    WebhookView,
    delivery,
    list_deliveries,
    list_webhooks,
)


class CreateWebhookIn(msgspec.Struct):
    url: str
    events: list[str]


# the views with public ids (a docstring would enter the OpenAPI schema)
class WebhookOut(WebhookView):
    id: str  # keeps its place first


class CreatedWebhookOut(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    secret: str


class DeliveryOut(DeliveryView):
    id: str


def _ports(request: Request) -> WebhookPorts:
    return request.app.state.ports.webhooks


def _webhook_id(request: Request) -> UUID:
    return path_id(request, "whk", "webhook_id", webhook_not_found)


def _render(row: WebhookView) -> WebhookOut:
    return by_name(WebhookOut, row, id=ids.encode("whk", row.id))


def _render_delivery(row: DeliveryView) -> DeliveryOut:
    return by_name(DeliveryOut, row, id=ids.encode("dlv", row.id))


async def create(request: Request) -> Response:
    principal = await require_api_access(request)
    body = await read_json(request, CreateWebhookIn)
    created = await create_webhook(_ports(request), principal.account_id, body.url, body.events)
    await settle(request, created.notification_id)
    webhook = created.webhook
    out = CreatedWebhookOut(
        id=ids.encode("whk", webhook.id),
        url=webhook.url,
        events=webhook.events,
        created_at=webhook.created_on,
        secret=created.secret,
    )
    return json_response(out, 201, headers={"Cache-Control": "no-store"})


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    page = page_request(request)
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_webhooks(conn, principal.account_id, limit=page.fetch, before=page.after)
    return json_response(paginate(rows, page, key=lambda r: r.position, render=_render))


async def remove(request: Request) -> Response:
    principal = await require_api_access(request)
    now = request.app.state.clock.now()
    nid = await delete_webhook(_ports(request), principal.account_id, _webhook_id(request), now)
    await settle(request, nid)
    return no_content()


async def deliveries(request: Request) -> Response:
    principal = await require_api_access(request)
    webhook_id = _webhook_id(request)
    await own_webhook(_ports(request), principal.account_id, webhook_id)
    page = page_request(request)
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_deliveries(conn, webhook_id, limit=page.fetch, before=page.after)
    return json_response(paginate(rows, page, key=lambda r: r.position, render=_render_delivery))


async def redeliver(request: Request) -> Response:
    principal = await require_api_access(request)
    webhook_id = _webhook_id(request)
    delivery_id = ids.decode("dlv", request.path_params["delivery_id"])
    ports = _ports(request)
    await own_webhook(ports, principal.account_id, webhook_id)
    pool = request.app.state.infra.pool
    if delivery_id is None or await delivery(pool, webhook_id, delivery_id) is None:
        raise NotFound("No delivery with this id for this webhook.")
    await settle(
        request, await request_redelivery(ports, principal.account_id, webhook_id, delivery_id)
    )
    row = await delivery(pool, webhook_id, delivery_id)
    assert row is not None  # deliveries are never removed
    return json_response(_render_delivery(row), 202)
