"""`/api/v1/api-keys`: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import auth_ports, require_api_access
from api.bodies import read_json
from api.consistency import settle
from api.pagination import paginate
from api.public_ids import path_id
from api.queries import page_request
from api.rendering import json_response, no_content
from domain import ids
from domain.api_key import api_key_not_found
from domain.services.api_keys import create_api_key, revoke_api_key
from projections.api_keys import ApiKeyView, api_key_row, list_api_keys
from projections.views import by_name


class CreateApiKeyIn(msgspec.Struct):
    name: str


# the read model's view with the key's public id (a docstring would enter the OpenAPI schema)
class ApiKeyOut(ApiKeyView):
    id: str  # keeps its place first


class CreatedApiKeyOut(msgspec.Struct):
    id: str
    name: str
    key: str
    prefix: str
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


def _render(row: ApiKeyView) -> ApiKeyOut:
    return by_name(ApiKeyOut, row, id=ids.encode("key", row.id))


async def create(request: Request) -> Response:
    principal = await require_api_access(request)
    body = await read_json(request, CreateApiKeyIn)
    created = await create_api_key(auth_ports(request), principal.account_id, body.name)
    await settle(request, created.notification_id)
    row = api_key_row(created.api_key)
    out = by_name(CreatedApiKeyOut, row, id=ids.encode("key", row.id), key=created.key)
    return json_response(out, 201, headers={"Cache-Control": "no-store"})


async def index(request: Request) -> Response:
    principal = await require_api_access(request)
    page = page_request(request)
    async with request.app.state.infra.read_pool.acquire() as conn:
        rows = await list_api_keys(conn, principal.account_id, limit=page.fetch, before=page.after)
    return json_response(paginate(rows, page, key=lambda r: r.position, render=_render))


async def revoke(request: Request) -> Response:
    principal = await require_api_access(request)
    key_id = path_id(request, "key", "key_id", api_key_not_found)
    await settle(request, await revoke_api_key(auth_ports(request), principal.account_id, key_id))
    return no_content()
