"""`GET /docs`: the OpenAPI document (`api.openapi`) as a reference page people can work
from, rendered on the server once at start-up: per operation its parameters, body fields,
answer fields, error codes and a copy-paste curl example, grouped by resource.

No script and no third-party asset (the service works offline); the one inline `<style>`
is allowed by the page's CSP hash (`api.content_security`). Everything taken from the
document is escaped."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

#: the shell variables the examples use (the page's "Before you start" sets them)
BASE = "$BACKLYNK_URL"
KEY_HEADER = "X-API-Key: $BACKLYNK_API_KEY"

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,sans-serif;color:#1b1f24;max-width:62rem;margin:0 auto;
padding:1rem}
a{color:#0b57d0}
code,pre{font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;background:#f3f4f6}
code{padding:0 .2em;border-radius:3px;overflow-wrap:anywhere}
td:first-child code{overflow-wrap:normal;white-space:nowrap}
pre{padding:.6rem;overflow-x:auto;border-radius:4px;white-space:pre}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;display:block;overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
h2{border-bottom:2px solid #d0d7de;margin-top:2.5rem}
section.op{border-top:1px solid #d0d7de;margin-top:1.5rem}
h3 code{background:none;font-size:1rem}
.method{font-weight:700;padding:.1rem .4rem;border-radius:3px;background:#e7f0fe}
.note{color:#57606a}
nav ul{padding-left:1.2rem}
@media (max-width:40rem){body{padding:.5rem}th,td{padding:.2rem}}
"""

AUTHENTICATION = (
    "<p>Send either credential on every call marked <em>credentials</em>:</p><ul>"
    "<li><code>X-API-Key: bk_live_…</code>, an API key (paid plans; create one with "
    "<code>POST /api/v1/api-keys</code>: the full key is shown only in that answer and "
    "stored only as a hash; revoking it takes effect at once), or</li>"
    "<li><code>Authorization: Bearer &lt;access_token&gt;</code>, from "
    "<code>POST /api/v1/auth/register</code> or <code>/login</code>: an access token lasts "
    "15 minutes; trade the refresh token at <code>POST /api/v1/auth/refresh</code> for a "
    "new pair (a spent refresh token ends the whole session). A session lasts at most 30 "
    "days from sign-in.</li></ul>"
    "<p>The Free plan reaches the auth endpoints, <code>users/me</code> and the public "
    "checker only; the rest answers 403 <code>plan_required</code>. Every POST takes an "
    "<code>Idempotency-Key</code> header: the same key and request within 24 h returns the "
    "first answer and does nothing else; the same key with another request is 409 "
    "<code>idempotency_key_reused</code>. The examples use <code>…-1</code>: count up "
    "for each new request (running one again replays its first answer).</p>"
    '<p>JSON in and out. A list answers <code>{"data": […], "pagination": {"limit",'
    ' "has_more", "next_cursor"}}</code>, newest first: pass <code>next_cursor</code> '
    "as <code>?cursor=</code> for the next page. An empty query parameter means the "
    "parameter is absent. Every answer carries <code>X-Request-Id</code>.</p>"
)

ENVELOPE = (
    '{"message": "Validation failed",\n'
    ' "error": {"code": "invalid_site_url", "field": "url",\n'
    '           "details": "Use an indexable https URL with a public landing page."}}'
)

#: API.md, Errors: status, when, example codes
ERRORS = (
    ("400", "the body is not JSON, or not an object", "invalid_json"),
    ("401", "no credentials, bad or expired token, revoked key",
     "authentication_required invalid_token token_expired invalid_api_key "
     "invalid_credentials refresh_token_reused"),
    ("403", "the plan does not include the endpoint or the directory",
     "plan_required directory_not_in_plan"),
    ("404", "unknown id, or an id that belongs to another account", "not_found"),
    ("405", "method not allowed on the route", "method_not_allowed"),
    ("409", "state conflict",
     "email_taken site_exists job_not_cancelable idempotency_key_reused"),
    ("413 / 415", "body too large (1 MiB) / not JSON",
     "payload_too_large unsupported_media_type"),
    ("422", "input or quota issue that can be corrected and retried",
     "validation_failed invalid_site_url invalid_url invalid_domain unknown_directory "
     "too_many_urls quota_exceeded no_eligible_directories site_limit_reached "
     "api_key_limit_reached"),
    ("429", "rate limit, with Retry-After in seconds", "rate_limited"),
    ("500", "a bug, logged with the request id", "internal_error"),
)  # fmt: skip


def _codes(words: str | list[str]) -> str:
    items = words.split() if isinstance(words, str) else words
    return ", ".join(f"<code>{escape(c)}</code>" for c in items) or "—"


class Schemas:
    """Reads schemas of one document: `$ref`s resolved, nullable unions unwrapped."""

    def __init__(self, document: dict[str, Any]):
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = set()
        while "$ref" in schema and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            schema = self.components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return schema

    def unwrap(self, schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The schema without its `null` alternative, and whether it had one."""
        schema = self.resolve(schema)
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            rest = [o for o in options if o.get("type") != "null"]
            if len(rest) < len(options) and len(rest) == 1:
                merged = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                return {**merged, **self.resolve(rest[0])}, True
        return schema, schema.get("type") == "null"

    def type_name(self, schema: dict[str, Any]) -> str:
        schema, nullable = self.unwrap(schema)
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            name = " | ".join(self.type_name(o) for o in options)
        elif schema.get("type") == "array":
            name = f"array of {self.type_name(schema.get('items', {}))}"
        elif "const" in schema:
            name = json.dumps(schema["const"])
        else:
            kind = schema.get("type", "any")
            name = " | ".join(kind) if isinstance(kind, list) else kind
            if schema.get("format"):
                name += f" ({schema['format']})"
            if kind == "object" and schema.get("title"):
                name = schema["title"]
        return name + (" or null" if nullable else "")

    def limits(self, schema: dict[str, Any]) -> list[str]:
        schema, _ = self.unwrap(schema)
        out = []
        if "enum" in schema:
            out.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
        for key, text in (
            ("minimum", "≥ {}"),
            ("exclusiveMinimum", "> {}"),
            ("maximum", "≤ {}"),
            ("exclusiveMaximum", "< {}"),
            ("minLength", "at least {} characters"),
            ("maxLength", "at most {} characters"),
            ("minItems", "at least {} items"),
            ("maxItems", "at most {} items"),
            ("pattern", "matches {}"),
        ):
            if key in schema:
                out.append(text.format(schema[key]))
        if schema.get("type") == "array":
            inner = self.limits(schema.get("items", {}))
            out += [f"each item {limit}" for limit in inner]
        if "default" in schema:
            out.append(f"default {json.dumps(schema['default'])}")
        return out

    def fields(
        self, schema: dict[str, Any], prefix: str = "", depth: int = 0
    ) -> list[tuple[str, str, bool, list[str], str]]:
        """(name, type, required, limits, description) of every field, nested fields named
        `parent.child` and array items `parent[].child`."""
        schema, _ = self.unwrap(schema)
        if schema.get("type") == "array":
            return self.fields(schema.get("items", {}), prefix + "[]", depth)
        rows = []
        required = set(schema.get("required", ()))
        for name, sub in schema.get("properties", {}).items():
            full = f"{prefix}.{name}" if prefix else name
            inner, _ = self.unwrap(sub)
            description = sub.get("description") or inner.get("description", "")
            rows.append(
                (full, self.type_name(sub), name in required, self.limits(sub), description)
            )
            if depth < 4:
                rows += self.fields(sub, full, depth + 1)
        return rows

    def example(self, schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
        """A plausible value: required fields only (or, when none is, the first one)."""
        schema, _ = self.unwrap(schema)
        if "examples" in schema:
            return schema["examples"][0]
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            return self.example(options[0], name, depth)
        kind = schema.get("type")
        if kind == "object":
            props = schema.get("properties", {})
            chosen = [p for p in props if p in schema.get("required", ())] or list(props)[:1]
            if depth > 4:
                return {}
            return {p: self.example(props[p], p, depth + 1) for p in chosen}
        if kind == "array":
            item = self.example(schema.get("items", {}), name.removesuffix("s"), depth + 1)
            return [item] * max(1, schema.get("minItems", 1))
        if kind == "integer":
            return max(1, schema.get("minimum", 1))
        if kind == "number":
            return schema.get("minimum", 1)
        if kind == "boolean":
            return True
        if kind == "string":
            return _sample_string(name, schema)
        return None


SAMPLES = (
    (r"email", "you@example.com"),
    (r"password", "correct horse battery staple"),
    (r"domain", "example.com"),
    (r"url", "https://example.com/"),
    (r"token", "eyJhbGciOi..."),
    (r"category", "saas"),
    (r"keyword", "backlinks"),
    (r"description", "Tools for small teams."),
    (r"^name$", "Example"),
)


def _sample_string(name: str, schema: dict[str, Any]) -> str:
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    if name.endswith("_id"):
        return f"{name.removesuffix('_id')}_0123456789abcdef0123456789abcdef"
    value = next((v for pattern, v in SAMPLES if re.search(pattern, name)), "example")
    value = value[: schema.get("maxLength", len(value))]
    return value + "x" * max(0, schema.get("minLength", 0) - len(value))


def anchor_of(op: dict[str, Any]) -> str:
    """The operation's anchor on the page: its operationId without braces."""
    return re.sub(r"[^A-Za-z0-9_-]", "", op["operationId"])


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def curl_example(schemas: Schemas, path: str, method: str, op: dict[str, Any]) -> str:
    """A command that works once `BACKLYNK_URL` (and, where credentials are needed,
    `BACKLYNK_API_KEY` and the path's ids) are set in the shell."""
    url = BASE + re.sub(r"{(\w+)}", lambda m: "$" + m.group(1).upper(), path)
    lines = [f'curl -sS -X {method.upper()} "{url}"']
    if op.get("security"):
        lines.append(f'-H "{KEY_HEADER}"')
    if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", ())):
        lines.append(f'-H "Idempotency-Key: {anchor_of(op)}-1"')
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        lines.append('-H "Content-Type: application/json"')
        value = schemas.example(body["schema"])
        lines.append("-d " + _shell_quote(json.dumps(value, ensure_ascii=False)))
    command = " \\\n  ".join(lines)
    answers = op.get("responses", {}).values()
    if any("text/csv" in answer.get("content", {}) for answer in answers):
        command += "\n\n# the same rows as CSV:\n" + " \\\n  ".join(
            [lines[0], '-H "Accept: text/csv"', *lines[1:]]
        )
    return command


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], caption: str) -> str:
    if not rows:
        return ""
    # a column no row fills (no field has a description) is left out
    keep = [i for i in range(len(head)) if any(row[i] for row in rows)]
    head = tuple(head[i] for i in keep)
    rows = [tuple(row[i] for i in keep) for row in rows]
    cells = "".join(f"<th scope='col'>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><caption class='note'>{caption}</caption><thead><tr>{cells}</tr></thead>" + (
        f"<tbody>{body}</tbody></table>"
    )


def _field_rows(rows: list[tuple[str, str, bool, list[str], str]]) -> list[tuple[str, ...]]:
    return [
        (
            f"<code>{escape(name)}</code>",
            escape(kind),
            "yes" if required else "no",
            escape("; ".join(limits)),
            escape(description),
        )
        for name, kind, required, limits, description in rows
    ]


def _operation(schemas: Schemas, path: str, method: str, op: dict[str, Any]) -> str:
    anchor = anchor_of(op)
    parts = [
        f"<section class='op' id='{anchor}' aria-labelledby='{anchor}-h'>",
        f"<h3 id='{anchor}-h'><span class='method'>{escape(method.upper())}</span> "
        f"<code>{escape(path)}</code></h3>",
        f"<p>{escape(op.get('summary', ''))}</p>",
        "<p class='note'>"
        + ("Credentials: API key or bearer token." if op.get("security") else "No credentials.")
        + "</p>",
    ]
    params = []
    for p in op.get("parameters", ()):
        schema = p.get("schema", {})
        description = p.get("description") or schemas.unwrap(schema)[0].get("description", "")
        params.append(
            (
                f"<code>{escape(p['name'])}</code>",
                escape(p["in"]),
                escape(schemas.type_name(schema)),
                "yes" if p.get("required") else "no",
                escape("; ".join(schemas.limits(schema))),
                escape(description),
            )
        )
    head = ("Name", "In", "Type", "Required", "Limits", "Description")
    parts.append(_table(head, params, "Parameters"))
    fields_head = ("Field", "Type", "Required", "Limits", "Description")
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        schema = schemas.resolve(body["schema"])
        if schema.get("description"):
            parts.append(f"<p>{escape(schema['description'])}</p>")
        rows = _field_rows(schemas.fields(body["schema"]))
        parts.append(_table(fields_head, rows, "Request body (JSON)"))
    errors = []
    for status, answer in op.get("responses", {}).items():
        content = answer.get("content", {})
        if status.startswith("2"):
            kinds = ", ".join(escape(k) for k in content) or "no body"
            parts.append(f"<p>Answer: <strong>{escape(status)}</strong> ({kinds}).</p>")
            if "application/json" in content:
                rows = _field_rows(schemas.fields(content["application/json"]["schema"]))
                parts.append(_table(fields_head, rows, f"Answer {escape(status)} fields"))
        else:
            codes = answer.get("x-error-codes", [])
            errors.append((escape(status), escape(answer["description"]), _codes(codes)))
    parts.append(_table(("Status", "When", "Codes"), errors, "Errors"))
    parts.append(
        f"<pre aria-label='curl example'><code>"
        f"{escape(curl_example(schemas, path, method, op))}</code></pre>"
    )
    parts.append("</section>")
    return "".join(parts)


def reference_page(document: dict[str, Any]) -> str:
    schemas = Schemas(document)
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        t["name"]: [] for t in document.get("tags", ())
    }
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append((path, method, op))
    described = {t["name"]: t.get("description", "") for t in document.get("tags", ())}
    title = escape(document["info"]["title"])
    toc = ["<li><a href='#authentication'>Authentication</a></li>",
           "<li><a href='#errors'>Errors</a></li>"]  # fmt: skip
    sections = []
    for tag, ops in groups.items():
        if not ops:
            continue
        tag_id = "tag-" + escape(tag)
        links = "".join(
            f"<li><a href='#{anchor_of(op)}'><code>{escape(m.upper())} {escape(p)}</code></a></li>"
            for p, m, op in ops
        )
        toc.append(f"<li><a href='#{tag_id}'>{escape(tag)}</a><ul>{links}</ul></li>")
        sections.append(
            f"<h2 id='{tag_id}'>{escape(tag)}</h2><p>{escape(described.get(tag, ''))}</p>"
            + "".join(_operation(schemas, p, m, op) for p, m, op in ops)
        )
    error_rows = [(escape(s), escape(w), _codes(c)) for s, w, c in ERRORS]
    return "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{title} reference</title><style>{STYLE}</style></head><body>",
            f"<header><h1>{title} v{escape(document['info']['version'])}</h1>",
            f"<p>{escape(document['info'].get('description', ''))}</p>",
            "<p>Machine-readable: <a href='/api/v1/openapi.json'>/api/v1/openapi.json</a>"
            " (OpenAPI 3.1). Before you start, set the shell variables the examples use:</p>",
            "<pre><code>export BACKLYNK_URL=http://127.0.0.1:8000\n"
            "export BACKLYNK_API_KEY=bk_live_…   # POST /api/v1/api-keys</code></pre>",
            "</header>",
            f"<nav aria-labelledby='toc'><h2 id='toc'>Contents</h2><ul>{''.join(toc)}</ul></nav>",
            "<main><section aria-labelledby='authentication'>",
            f"<h2 id='authentication'>Authentication</h2>{AUTHENTICATION}</section>",
            "<section aria-labelledby='errors'><h2 id='errors'>Errors</h2>",
            "<p>Every error, from every layer, has this shape; <code>field</code> is always "
            "present (<code>null</code> when no field is at fault) and no stack trace is "
            "shown. Each operation below lists the statuses and codes it can give.</p>",
            f"<pre><code>{escape(ENVELOPE)}</code></pre>",
            _table(("Status", "When", "Example codes"), error_rows, "Error statuses"),
            "</section>",
            *sections,
            "</main></body></html>",
        ]
    )
