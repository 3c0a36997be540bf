"""`GET /docs`, the API reference: every operation of the table with its parameters, body
fields, error statuses and codes and a curl example; the examples run as written against
a live server and get the documented status; everything from the document is escaped."""

from __future__ import annotations

import asyncio
import copy
import html
import os
import re
from typing import Any

import msgspec
import pytest

from api.openapi import build_document, document_path
from api.operations import OPERATIONS
from api.reference import Schemas, anchor_of, curl_example, reference_page
from tests.accounts import create_key
from tests.conftest import LiveServer
from tests.core.client import Client

DOCUMENT = build_document(OPERATIONS)
PAGE = reference_page(DOCUMENT)


def section(page: str, operation_id: str) -> str:
    match = re.search(rf"<section class='op' id='{operation_id}'.*?</section>", page, re.S)
    assert match, operation_id
    return match.group(0)


def documented(op) -> dict[str, Any]:
    return DOCUMENT["paths"][document_path(op.path)][op.method.lower()]


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_every_operation_shows_its_parameters_fields_errors_and_example(op) -> None:
    spec = documented(op)
    text = section(PAGE, anchor_of(spec))
    assert f"<code>{html.escape(document_path(op.path))}</code>" in text
    assert f"href='#{anchor_of(spec)}'" in PAGE  # in the table of contents
    for parameter in spec.get("parameters", ()):
        assert f"<code>{html.escape(parameter['name'])}</code>" in text, parameter["name"]
    if op.body is not None:
        for name in msgspec.structs.fields(op.body):
            assert f"<code>{name.encode_name}</code>" in text, name.encode_name
    if op.answer is not None and hasattr(op.answer, "__struct_fields__"):
        for name in op.answer.__struct_fields__:
            assert f"<code>{name}</code>" in text, name
    for status, answer in spec["responses"].items():
        if not status.startswith("2"):
            assert f"<td>{status}</td>" in text, status
            for code in answer["x-error-codes"]:
                assert f"<code>{code}</code>" in text, (status, code)
    for status, code in op.codes:  # the table's own codes reach the document and the page
        assert code in spec["responses"][status]["x-error-codes"]
    assert "curl -sS -X " + op.method in html.unescape(text)


def test_every_operation_belongs_to_a_declared_resource() -> None:
    declared = {tag["name"] for tag in DOCUMENT["tags"]}
    for path, methods in DOCUMENT["paths"].items():
        for op in methods.values():
            assert set(op["tags"]) <= declared, path


def test_every_error_answer_of_the_api_names_its_envelope_codes() -> None:
    for op in OPERATIONS:
        for status, answer in documented(op)["responses"].items():
            if not status.startswith("2"):
                assert answer["x-error-codes"], (op.path, status)
    create_site = DOCUMENT["paths"]["/api/v1/sites"]["post"]["responses"]
    assert create_site["409"]["x-error-codes"] == [
        "idempotency_key_reused",
        "idempotency_key_in_use",
        "site_exists",
    ]
    assert "invalid_site_url" in create_site["422"]["x-error-codes"]
    assert "invalid_api_key" in create_site["401"]["x-error-codes"]
    create_job = DOCUMENT["paths"]["/api/v1/jobs"]["post"]["responses"]
    assert create_job["403"]["x-error-codes"] == ["plan_required", "directory_not_in_plan"]


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS if op.body is not None], ids=lambda op: f"{op.method} {op.path}"
)
def test_example_bodies_are_accepted_by_the_operations_structs(op) -> None:
    spec = documented(op)
    command = curl_example(Schemas(DOCUMENT), document_path(op.path), op.method, spec)
    body = re.search(r"-d '(.*)'", command)
    assert body
    msgspec.json.decode(body.group(1), type=op.body, strict=True)


def test_nested_fields_enums_limits_and_nullable_are_spelled_out() -> None:
    jobs = section(PAGE, "get_api_v1_jobs_job_id")
    assert "<code>tasks[].error.code</code>" in jobs and "<code>progress.percent</code>" in jobs
    sites = section(PAGE, "post_api_v1_sites")
    assert "string or null" in sites and "at most 5000 characters" in sites
    assert "each item at most 100 characters" in sites and "at most 50 items" in sites
    backlinks = section(PAGE, "get_api_v1_backlinks")
    assert (
        "one of &quot;pending&quot;, &quot;live&quot;, &quot;unreachable&quot;, &quot;lost&quot;"
        in backlinks
    )
    assert "≥ 1; ≤ 200" in backlinks and "Accept: text/csv" in backlinks


def test_the_preface_has_authentication_errors_and_a_table_of_contents() -> None:
    for anchor in ("authentication", "errors", "tag-sites", "tag-jobs", "tag-auth"):
        assert f"id='{anchor}'" in PAGE and f"href='#{anchor}'" in PAGE
    assert "X-API-Key" in PAGE and "Authorization: Bearer" in PAGE
    assert "<code>quota_exceeded</code>" in PAGE
    assert "name='viewport'" in PAGE
    assert "<script" not in PAGE and "http://" not in PAGE.replace("http://127.0.0.1", "")


def test_text_from_the_document_is_escaped() -> None:
    doc = copy.deepcopy(DOCUMENT)
    evil = "<script>alert(1)</script>"
    doc["paths"]["/api/v1/sites"]["post"]["summary"] = evil
    doc["components"]["schemas"]["CreateSiteIn"]["properties"]["name"]["description"] = evil
    doc["components"]["schemas"]["CreateSiteIn"]["properties"][evil] = {"type": "string"}
    doc["tags"][0]["description"] = evil
    page = reference_page(doc)
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


async def run(command: str, env: dict[str, str]) -> tuple[int, str]:
    """The command as a shell runs it, with the answer's status appended."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command + " -w '\\n%{http_code}'",
        env={"PATH": os.environ["PATH"], **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    body, _, status = out.decode().rpartition("\n")
    return int(status), body


async def test_the_curl_examples_run_as_written(api: LiveServer, pro: Client, catalogue) -> None:
    assert api.http
    async with api.http.get("/docs") as r:
        assert r.status == 200
        page = await r.text()
    key = await create_key(api, pro.tokens)
    env = {"BACKLYNK_URL": api.url, "BACKLYNK_API_KEY": key["key"]}

    def example(operation_id: str) -> str:
        found = re.search(
            r"<pre aria-label='curl example'><code>(.*?)</code>", section(page, operation_id), re.S
        )
        assert found
        return html.unescape(found.group(1)).split("\n\n")[0]

    def expected(operation_id: str) -> int:
        path, method = next(
            (p, m) for p, ms in DOCUMENT["paths"].items() for m, o in ms.items()
            if anchor_of(o) == operation_id
        )  # fmt: skip
        return int(next(s for s in DOCUMENT["paths"][path][method]["responses"] if s < "3"))

    for operation_id in ("get_api_v1_users_me", "get_api_v1_public_coverage"):
        status, _ = await run(example(operation_id), env)
        assert status == expected(operation_id) == 200, operation_id
    status, body = await run(example("post_api_v1_sites"), env)
    assert status == expected("post_api_v1_sites") == 201, body
    env["SITE_ID"] = msgspec.json.decode(body)["id"]
    for operation_id in ("get_api_v1_sites_site_id", "patch_api_v1_sites_site_id"):
        status, body = await run(example(operation_id), env)
        assert status == expected(operation_id) == 200, (operation_id, body)
    # the same command again replays its first answer (the same Idempotency-Key)
    status, again = await run(example("post_api_v1_sites"), env)
    assert status == 201 and msgspec.json.decode(again)["id"] == env["SITE_ID"]
    # as written, the example's site id is nobody's: a documented 404 with a documented code
    status, body = await run(example("post_api_v1_jobs"), env)
    error = msgspec.json.decode(body)["error"]
    responses = DOCUMENT["paths"]["/api/v1/jobs"]["post"]["responses"]
    assert status == 404 and error["code"] in responses["404"]["x-error-codes"], body
    # with the real site id and the next key (the page says to count up), it is accepted
    job = example("post_api_v1_jobs").replace(
        "site_0123456789abcdef0123456789abcdef", env["SITE_ID"]
    )
    status, body = await run(job.replace("post_api_v1_jobs-1", "post_api_v1_jobs-2"), env)
    assert status == expected("post_api_v1_jobs") == 202, body
    status, body = await run(example("get_api_v1_backlinks"), env)
    assert status == 200 and msgspec.json.decode(body)["data"] == []
