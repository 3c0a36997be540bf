"""The OpenAPI 3.1 document (API.md, Conventions), generated from the operation table
(`api.operations`) and the msgspec structs it names, and `GET /docs`, a page that renders
it without any script or third-party asset."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.errors import ErrorEnvelope
from api.idempotency import IdempotencyKey
from api.queries import parameters

if TYPE_CHECKING:  # the table names this module's handlers
    from api.operations import Operation

#: answers any request with a JSON body may get, whoever sends it
BODY_ERRORS = {
    "400": "The body is not a JSON object",
    "413": "The body is larger than 1 MiB",
    "415": "The body is not application/json",
}

REF = "#/components/schemas/{name}"


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
            for status, text in sorted(errors.items()):
                responses[status] = {"description": text, "content": _json(error)}
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{method.lower()}_{document_path(path).strip('/').replace('/', '_')}",
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


#: path parameters typed by a Starlette convertor (`{directory_id:int}`)
CONVERTORS = {"int": {"type": "integer", "minimum": 0}}


def _path_parameters(path: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for part in path.split("/"):
        if part.startswith("{"):
            name, _, convertor = part[1:-1].partition(":")
            out.append((name, CONVERTORS.get(convertor, {"type": "string"})))
    return out


def document_path(route_path: str) -> str:
    """A route's path as OpenAPI writes it: `{directory_id:int}` -> `{directory_id}`."""
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
    """The document as a plain page: one section per operation, schemas linked."""
    doc = msgspec.json.decode(document_bytes(operations))
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Backlynk API</title><style>body{font:15px/1.5 system-ui,sans-serif;",
        "max-width:60rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f4f4f4}",
        "pre{padding:.5rem;overflow:auto}h3{margin-bottom:.2rem}</style></head><body>",
        "<h1>Backlynk API v1</h1>",
        "<p>Machine-readable: <a href='/api/v1/openapi.json'>/api/v1/openapi.json</a>.</p>",
    ]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            parts.append(f"<h3><code>{esc(method.upper())} {esc(path)}</code></h3>")
            parts.append(f"<p>{esc(op['summary'])}</p><ul>")
            for status, answer in op["responses"].items():
                parts.append(f"<li>{esc(status)}: {esc(answer['description'])}</li>")
            parts.append("</ul>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in doc["components"]["schemas"].items():
        pretty = msgspec.json.format(msgspec.json.encode(schema), indent=2).decode()
        parts.append(f"<h3 id='{esc(name)}'>{esc(name)}</h3><pre>{esc(pretty)}</pre>")
    parts.append("</body></html>")
    return "".join(parts)
