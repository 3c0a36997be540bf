"""The OpenAPI 3.1 document (API.md, Conventions), generated from the msgspec structs the
routes decode and encode, and `GET /docs`, a page that renders it without any script or
third-party asset.

`OPERATIONS` says, for every route of `api.app.routes()`, what it takes and answers; a
test checks that no route is missing from it."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from adapters.directories import SORTS
from api.api_keys import ApiKeyOut, CreateApiKeyIn, CreatedApiKeyOut
from api.backlinks import LINK_TYPES, BacklinkOut
from api.checker import CheckBacklinksBody
from api.coverage import Coverage
from api.directories import DirectoryOut
from api.errors import ErrorEnvelope
from api.jobs import CreateJobIn, EventOut, JobOut
from api.pagination import MAX_LIMIT, Page
from api.sessions import LoginIn, RefreshIn, RegisterIn, TokensOut
from api.sites import CreateSiteIn, SiteOut, UpdateSiteIn
from api.users import UserOut
from domain.backlink import LIVE, LOST
from domain.backlink_evidence import CheckReport
from domain.job import JOB_STATUSES

OPEN, PUBLIC, ACCOUNT, PAID = "open", "public", "account", "paid"

#: the error answers each kind of route may give, besides its own
ERRORS = {
    OPEN: {},  # plain reads that take no input
    PUBLIC: {"422": "Invalid input", "429": "Rate limited"},
    ACCOUNT: {"401": "Not authenticated", "422": "Invalid input"},
    PAID: {
        "401": "Not authenticated",
        "403": "The plan does not include this",
        "404": "Unknown id, or another account's",
        "422": "Invalid input",
    },
}


#: answers any request with a JSON body may get, whoever sends it
BODY_ERRORS = {
    "400": "The body is not a JSON object",
    "413": "The body is larger than 1 MiB",
    "415": "The body is not application/json",
}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _integer(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


#: query parameters by name, as the routes read them
QUERY: dict[str, dict[str, Any]] = {
    "limit": _integer(1, MAX_LIMIT),
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
    "min_dr": _integer(0, 100),
    "max_dr": _integer(0, 100),
    "q": {"type": "string", "maxLength": 100},
    "category": {"type": "string"},
    "site_id": {"type": "string", "description": "A site of the account (404 otherwise)"},
    "link_type": _enum(*LINK_TYPES),
    "format": {
        "type": "string",
        "description": "csv: as Accept: text/csv — every matching row, streamed (limit and "
        "cursor page the JSON list only)",
    },
}


@dataclass(frozen=True)
class Operation:
    summary: str
    status: int = 200
    body: Any = None  # request struct
    answer: Any = None  # response type; None = no body
    access: str = PAID
    #: query parameter names (schemas from QUERY), or (name, schema) of this route's own
    query: tuple[str | tuple[str, dict[str, Any]], ...] = ()
    media_type: str = "application/json"
    #: error answers of this operation besides those of its access and its body
    errors: tuple[tuple[str, str], ...] = ()
    csv: bool = False  # also answers text/csv (Accept: text/csv or ?format=csv)


LIST = ("limit", "cursor")
CREDENTIALS = (("401", "Unknown, spent or expired refresh token"),)
CONFLICT = "409"

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/healthz"): Operation("Liveness", answer=dict[str, Any], access=OPEN),
    ("GET", "/readyz"): Operation("Readiness", answer=dict[str, Any], access=OPEN),
    ("GET", "/api/v1/openapi.json"): Operation("This document", answer=dict[str, Any], access=OPEN),
    ("GET", "/docs"): Operation("This document as a web page", access=OPEN, media_type="text/html"),
    ("GET", "/api/v1/public/coverage"): Operation(
        "Catalogue coverage by category and DR tier", answer=Coverage, access=OPEN
    ),
    ("POST", "/api/v1/auth/register"): Operation(
        "Create an account (Free plan)",
        201,
        RegisterIn,
        TokensOut,
        PUBLIC,
        errors=((CONFLICT, "The email is taken"),),
    ),
    ("POST", "/api/v1/auth/login"): Operation(
        "Sign in for a token pair",
        200,
        LoginIn,
        TokensOut,
        PUBLIC,
        errors=(("401", "Wrong email or password"),),
    ),
    ("POST", "/api/v1/auth/refresh"): Operation(
        "Trade a refresh token for a new pair",
        200,
        RefreshIn,
        TokensOut,
        PUBLIC,
        errors=CREDENTIALS,
    ),
    ("POST", "/api/v1/auth/logout"): Operation(
        "End the session", 204, RefreshIn, None, PUBLIC, errors=CREDENTIALS
    ),
    ("GET", "/api/v1/users/me"): Operation(
        "The signed-in user, plan and usage", answer=UserOut, access=ACCOUNT
    ),
    ("POST", "/api/v1/api-keys"): Operation(
        "Create an API key (shown once)", 201, CreateApiKeyIn, CreatedApiKeyOut
    ),
    ("GET", "/api/v1/api-keys"): Operation("List API keys", answer=Page[ApiKeyOut], query=LIST),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Operation("Revoke an API key", 204),
    ("POST", "/api/v1/sites"): Operation(
        "Register a site",
        201,
        CreateSiteIn,
        SiteOut,
        errors=((CONFLICT, "The account has this site already"),),
    ),
    ("GET", "/api/v1/sites"): Operation(
        "List sites, newest first",
        answer=Page[SiteOut],
        query=(("status", _enum("active", "archived")), *LIST),
    ),
    ("GET", "/api/v1/sites/{site_id}"): Operation("Read a site", answer=SiteOut),
    ("PATCH", "/api/v1/sites/{site_id}"): Operation(
        "Update a site (absent: unchanged, null: cleared)", 200, UpdateSiteIn, SiteOut
    ),
    ("DELETE", "/api/v1/sites/{site_id}"): Operation("Archive a site", answer=SiteOut),
    ("GET", "/api/v1/directories"): Operation(
        "Directories within the plan's DR cap (by id unless sorted)",
        answer=Page[DirectoryOut],
        query=(
            "category",
            "min_dr",
            "max_dr",
            "q",
            ("sort", _enum(*SORTS) | {"description": "-dr: highest first; by id when absent"}),
            *LIST,
        ),
    ),
    ("GET", "/api/v1/directories/{directory_id:int}"): Operation(
        "Read a directory (404 above the plan's DR cap, like an unknown id)",
        answer=DirectoryOut,
    ),
    ("GET", "/api/v1/backlinks"): Operation(
        "Backlinks with their latest evidence (a JSON page, or every matching row as CSV with "
        "Accept: text/csv)",
        answer=Page[BacklinkOut],
        query=("site_id", ("status", _enum(LIVE, LOST)), "link_type", "format", *LIST),
        csv=True,
    ),
    ("POST", "/api/v1/jobs"): Operation("Create a submission job", 202, CreateJobIn, JobOut),
    ("GET", "/api/v1/jobs"): Operation(
        "List jobs, newest first",
        answer=Page[JobOut],
        query=(("status", _enum(*JOB_STATUSES)), "site_id", *LIST),
    ),
    ("GET", "/api/v1/jobs/{job_id}"): Operation("Read a job and its tasks", answer=JobOut),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): Operation(
        "Cancel a job: pending tasks at once; the job is canceled when the attempts in "
        "flight end (it stays running until then, and asking again is a no-op 202)",
        202,
        None,
        JobOut,
        errors=((CONFLICT, "The job has finished"),),
    ),
    ("GET", "/api/v1/jobs/{job_id}/events"): Operation(
        "A job's history from the event store", answer=Page[EventOut], query=LIST
    ),
    ("POST", "/api/v1/public/check-backlinks"): Operation(
        "Check known linking pages (no account)",
        200,
        CheckBacklinksBody,
        CheckReport,
        PUBLIC,
        csv=True,
    ),
    ("POST", "/api/v1/directories/check-backlinks"): Operation(
        "Check known linking pages",
        200,
        CheckBacklinksBody,
        CheckReport,
        csv=True,
        errors=(("429", "Rate limited: the plan's checks or URLs per minute"),),
    ),
    ("GET", "/tools/backlink-checker"): Operation(
        "The backlink checker web page", access=OPEN, media_type="text/html"
    ),
    ("GET", "/tools/backlink-checker.js"): Operation(
        "The backlink checker page's script", access=OPEN, media_type="text/javascript"
    ),
    ("GET", "/tools/backlink-checker.css"): Operation(
        "The backlink checker page's style sheet", access=OPEN, media_type="text/css"
    ),
}

REF = "#/components/schemas/{name}"


def _json(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def build_document(operations: dict[tuple[str, str], Operation] = OPERATIONS) -> dict[str, Any]:
    types = [t for op in operations.values() for t in (op.body, op.answer) if t is not None]
    types.append(ErrorEnvelope)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    schema_of = dict(zip(map(id, types), schemas, strict=True))
    error = {"$ref": REF.format(name="ErrorEnvelope")}
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in operations.items():
        responses: dict[str, Any] = {str(op.status): {"description": op.summary}}
        if op.answer is not None:
            responses[str(op.status)]["content"] = _json(schema_of[id(op.answer)])
            if op.csv:
                responses[str(op.status)]["content"]["text/csv"] = {"schema": {"type": "string"}}
        elif op.media_type != "application/json":
            responses[str(op.status)]["content"] = {op.media_type: {"schema": {"type": "string"}}}
        if op.media_type == "application/json" and path.startswith("/api/"):
            errors = dict(ERRORS[op.access])
            if op.body is not None:
                errors.update(BODY_ERRORS)
            if method == "POST":
                errors[CONFLICT] = "Idempotency-Key reused with another request, or in use"
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
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": schema}
            for name, schema in _path_parameters(path)
        ] + [_query_parameter(q) for q in op.query]
        if method == "POST":
            parameters.append(IDEMPOTENCY_KEY)
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": _json(schema_of[id(op.body)])}
        if op.access not in (OPEN, PUBLIC):
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
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
}


def _query_parameter(q: str | tuple[str, dict[str, Any]]) -> dict[str, Any]:
    name, schema = q if isinstance(q, tuple) else (q, QUERY[q])
    return {"name": name, "in": "query", "schema": schema}


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


_document: bytes | None = None


def document_bytes() -> bytes:
    global _document
    if _document is None:
        _document = msgspec.json.encode(build_document())
    return _document


async def openapi_json(request: Request) -> Response:
    return Response(document_bytes(), media_type="application/json")


async def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(docs_html())


@functools.cache
def docs_html() -> str:
    """The document as a plain page: one section per operation, schemas linked."""
    doc = msgspec.json.decode(document_bytes())
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
