"""Every query parameter of every read, at the edges of what its text can say: numbers of
thousands of digits (`int()` refuses over 4,300), digits that are not ASCII, instants its
offset moves out of the years 1-9999 in UTC, months at the ends of `YYYY-MM`, texts at and
over their length. Each was once a 500 somewhere (`tests/core/test_fuzz_regressions.py`);
this walks the OpenAPI document, so a parameter added later is held to the same: an answer
without a 5xx, in the error envelope when it is one, and a CSV that arrives whole."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.openapi import build_document
from api.operations import OPERATIONS
from tests.core.client import Client, assert_error

pytestmark = pytest.mark.usefixtures("catalogue")

NUMBERS = ["9" * 5000, "0" * 5000 + "1", "\u00b2", "\u0661\u0662", "-1"]
INSTANTS = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
]
MONTHS = ["0000-01", "9999-12", "1970-01"]
TEXTS = ["\u00b2", "x" * 5000]


def edge_values(schema: dict[str, Any]) -> list[str]:
    if schema.get("type") == "integer":
        return NUMBERS
    if schema.get("format") == "date-time":
        return INSTANTS
    if str(schema.get("pattern", "")).startswith("^[0-9]{4}-"):
        return MONTHS
    if "maxLength" in schema:
        n = schema["maxLength"]
        return ["x" * n, "x" * (n + 1), "\u00b2" * n]
    return TEXTS


def reads() -> list[Any]:
    """(path template, query parameter, its schema, whether the read has `format=csv`)."""
    out = []
    for path, item in build_document(OPERATIONS)["paths"].items():
        read = item.get("get")
        if read is None or path.endswith("/stream"):
            continue  # a job's stream stays open: tests/core/test_job_stream.py
        query = [p for p in read.get("parameters", []) if p.get("in") == "query"]
        csv = any(p["name"] == "format" for p in query)
        for p in query:
            if p["name"] != "format":
                out.append(
                    pytest.param(path, p["name"], p["schema"], csv, id=f"{path}?{p['name']}")
                )
    return out


async def _answer(client: Client, path: str, params: dict[str, str]) -> None:
    a = await client.get(path, **params)  # a CSV cut short fails reading its body
    assert a.status < 500, (path, params, a.body)
    if a.status >= 400:
        assert_error(a, a.status, a.body["error"]["code"])


async def test_the_walk_reaches_the_parameters_that_once_were_a_500():
    walked = {(values[0], values[1]) for values in (p.values for p in reads())}
    assert {
        ("/api/v1/audit", "from"),
        ("/api/v1/reports/usage", "to"),
        ("/api/v1/sites", "limit"),
        ("/api/v1/sites/{site_id}", "as_of"),
    } <= walked


@pytest.mark.parametrize(("path", "name", "schema", "csv"), reads())
async def test_a_query_parameter_at_its_edges_answers_without_a_5xx(
    agency: Client, path: str, name: str, schema: dict[str, Any], csv: bool
):
    ids = {}
    if "{site_id}" in path or "{job_id}" in path:
        site = await agency.add_site()
        ids["site_id"] = site["id"]
        if "{job_id}" in path:
            ids["job_id"] = (await agency.job(site["id"], [1]))["id"]
    filled = path.format(
        **ids,
        backlink_id=f"bl_{uuid.uuid4().hex}",
        webhook_id=f"wh_{uuid.uuid4().hex}",
        directory_id="1",
    )
    for value in edge_values(schema):
        await _answer(agency, filled, {name: value})
        if csv:
            await _answer(agency, filled, {name: value, "format": "csv"})


@pytest.mark.parametrize(
    "value", ["9" * 5000, "0" * 5000 + "1", "9" * 19], ids=["5000-nines", "padded-1", "19-nines"]
)
async def test_the_directory_id_in_the_path_at_its_edges(agency: Client, value: str):
    await _answer(agency, f"/api/v1/directories/{value}", {})
