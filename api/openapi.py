"""The OpenAPI 3.1 document (API.md, Conventions), generated from the operation table
(`api.operations`) and the msgspec structs it names, and `GET /docs`, a page that renders
it (`api.reference`) without any script or third-party asset."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.errors import MESSAGES, ErrorEnvelope
from api.idempotency import IdempotencyKey
from api.queries import parameters
from api.reference import reference_page

if TYPE_CHECKING:  # the table names this module's handlers
    from api.operations import Operation

#: answers any request with a JSON body may get, whoever sends it
BODY_ERRORS = {
    "400": "The body is not a JSON object",
    "413": "The body is larger than 1 MiB",
    "415": "The body is not application/json",
}

REF = "#/components/schemas/{name}"

#: the envelope codes (API.md, Errors) any operation may give with a status, by who calls it
COMMON_CODES = {
    "400": ("invalid_json",),
    "404": ("not_found",),
    "413": ("payload_too_large",),
    "415": ("unsupported_media_type",),
    "422": ("validation_failed",),
    "429": ("rate_limited",),
}
CREDENTIAL_CODES = ("authentication_required", "invalid_token", "token_expired", "invalid_api_key")
IDEMPOTENCY_CODES = ("idempotency_key_reused", "idempotency_key_in_use")

#: resources, in the order /docs shows them: (tag, what it is); an operation's tag is
#: the first path segment after /api/v1/ unless `tag_of` says otherwise
TAGS = (
    ("auth", "Accounts and sessions: register, sign in, refresh, sign out"),
    ("users", "The signed-in user, plan and usage"),
    ("api-keys", "API keys for scripts and servers"),
    ("sites", "The sites you submit"),
    ("directories", "The directory catalogue within your plan"),
    ("jobs", "Submission jobs and their tasks"),
    ("backlinks", "Backlinks found and re-checked"),
    ("backlink-check", "Check known linking pages for a link to your domain"),
    ("webhooks", "Signed notifications of job and backlink events, and their deliveries"),
    ("audit", "What happened in the account, and what caused it"),
    ("reports", "Usage, directory performance and backlinks over time"),
    ("public", "Aggregate data, no account"),
    ("service", "Health, this document and the web pages"),
)


def tag_of(path: str) -> str:
    if path.endswith("/check-backlinks"):
        return "backlink-check"
    if not path.startswith("/api/v1/") or path == "/api/v1/openapi.json":
        return "service"
    return path.removeprefix("/api/v1/").split("/")[0]


def error_codes(op: Operation, status: str) -> list[str]:
    """The envelope codes `op` may answer with `status` (API.md, Errors)."""
    codes = list(COMMON_CODES.get(status, ()))
    if status == "401" and op.access.credentials:
        codes += CREDENTIAL_CODES
    if status == "403" and op.access.name == "paid":
        codes.append("plan_required")
    if status == "409" and op.idempotent:
        codes += IDEMPOTENCY_CODES
    codes += [code for s, code in op.codes if s == status]
    return list(dict.fromkeys(codes))


def _json(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def build_document(operations: Sequence[Operation]) -> dict[str, Any]:
    types = [t for op in operations for t in (op.body, op.answer) if t is not None]
    types.append(ErrorEnvelope)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    schema_of = dict(zip(map(id, types), schemas, strict=True))
    error = {"$ref": REF.format(name="ErrorEnvelope")}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        method, path = op.method, op.path
        responses: dict[str, Any] = {str(op.status): {"description": op.summary}}
        if op.answer is not None:
            responses[str(op.status)]["content"] = _json(schema_of[id(op.answer)])
            if op.csv:
                responses[str(op.status)]["content"]["text/csv"] = {"schema": {"type": "string"}}
        elif op.media_type != "application/json":
            responses[str(op.status)]["content"] = {op.media_type: {"schema": {"type": "string"}}}
        if path.startswith("/api/"):
            errors = dict(op.access.errors)
            if op.body is not None:
                errors.update(BODY_ERRORS)
            if op.idempotent:
                errors["409"] = "Idempotency-Key reused with another request, or in use"
            if _path_parameters(path):
                errors["404"] = "Unknown id, or another account's"
            errors.update(op.errors)
            for status, _ in op.codes:
                errors.setdefault(status, MESSAGES[int(status)])
            for status, text in sorted(errors.items()):
                responses[status] = {
                    "description": text,
                    "content": _json(error),
                    "x-error-codes": error_codes(op, status),
                }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{method.lower()}_{document_path(path).strip('/').replace('/', '_')}",
            "tags": [tag_of(path)],
            "responses": responses,
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": schema}
            for name, schema in _path_parameters(path)
        ]
        if op.query is not None:
            params.extend(parameters(op.query))
        if op.idempotent:
            params.append(IDEMPOTENCY_KEY)
        if params:
            operation["parameters"] = params
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": _json(schema_of[id(op.body)])}
        if op.access.credentials:
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
        paths.setdefault(document_path(path), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Backlynk API",
            "version": "1",
            "description": "Directory submissions with page-level backlink evidence. "
            "An empty query parameter (`?status=`) means the parameter is absent.",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "The same key and body within 24 h replays the first answer",
    "schema": msgspec.json.schema(IdempotencyKey),
}


#: path parameters typed by a convertor (`{directory_id:number}`, `api.routing`)
CONVERTORS = {"number": {"type": "integer", "minimum": 0}}


def _path_parameters(path: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for part in path.split("/"):
        if part.startswith("{"):
            name, _, convertor = part[1:-1].partition(":")
            out.append((name, CONVERTORS.get(convertor, {"type": "string"})))
    return out


def document_path(route_path: str) -> str:
    """A route's path as OpenAPI writes it: `{directory_id:number}` -> `{directory_id}`."""
    return re.sub(r"{(\w+):\w+}", r"{\1}", route_path)


@functools.cache
def document_bytes(operations: tuple[Operation, ...]) -> bytes:
    return msgspec.json.encode(build_document(operations))


async def openapi_json(request: Request) -> Response:
    return Response(request.app.state.openapi, media_type="application/json")


async def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(request.app.state.docs_page)


@functools.cache
def docs_html(operations: tuple[Operation, ...]) -> str:
    """The document as a web page (`api.reference`), rendered once at start-up."""
    return reference_page(msgspec.json.decode(document_bytes(operations)))
