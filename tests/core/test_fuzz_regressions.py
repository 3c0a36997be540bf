"""Regressions found by fuzzing the HTTP API with schemathesis against its own OpenAPI
document. Each test names the input that used to crash (500), poison a read model, or
break the contract, and checks the answer API.md asks for — through the real HTTP API,
against real Postgres and Redis."""

from __future__ import annotations

import base64

import pytest

from api.pagination import list_tag
from domain.backlink import STATUSES
from tests.core.client import Client, assert_error, event_count

pytestmark = pytest.mark.usefixtures("catalogue")


def cursor_of(value: object, list_name: str = "") -> str:
    """A forged cursor: `value` as the key, in the list's own wrapping when `list_name` is
    given (the list's tag, as `api.pagination` writes it), else bare."""
    raw = f'["{list_tag(list_name)}",{value}]' if list_name else str(value)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


#: the list each path's cursors belong to (`api.queries.page_of`)
LIST_NAMES = {
    "/api/v1/api-keys": "/api/v1/api-keys",
    "/api/v1/sites": "SitesQuery",
    "/api/v1/jobs": "JobsQuery",
    "/api/v1/backlinks": "BacklinksQuery",
    "/api/v1/directories": "DirectoriesQuery",
}


# --- NUL characters: Postgres text cannot hold them --------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/api-keys", {"name": "ci\u0000key"}, "name"),
        ("/api/v1/sites", {"url": "https://nul.example.org/", "name": "a\u0000b"}, "name"),
        (
            "/api/v1/sites",
            {"url": "https://nul.example.org/", "name": "ok", "keywords": ["x", "\u0000"]},
            "keywords[1]",
        ),
        (
            "/api/v1/sites",
            {"url": "https://nul.example.org/", "name": "ok", "contact_email": "a\u0000@b.co"},
            "contact_email",
        ),
    ],
)
async def test_a_nul_character_in_a_body_is_422_and_writes_nothing(
    agency: Client, infra, path, body, field
):
    before = await event_count(infra)
    a = await agency.post(path, body)
    assert_error(a, 422, "validation_failed", field=field)
    assert await event_count(infra) == before


async def test_a_nul_character_cannot_stall_the_read_models(agency: Client):
    """It used to be accepted (201 from the aggregate) and then stopped the projection
    for every account: the next key or site never showed in any list."""
    await agency.post("/api/v1/api-keys", {"name": "bad\u0000name"})
    await agency.post("/api/v1/sites", {"url": "https://nul.example.org/", "name": "a\u0000"})
    key = await agency.post("/api/v1/api-keys", {"name": "good"})
    assert key.status == 201, key.body
    site = await agency.add_site()
    keys = await agency.get("/api/v1/api-keys")
    assert [k["id"] for k in keys.body["data"]] == [key.body["id"]]
    sites = await agency.get("/api/v1/sites")
    assert [s["id"] for s in sites.body["data"]] == [site["id"]]


async def test_a_nul_character_in_an_unknown_field_is_ignored_like_the_field(agency: Client):
    a = await agency.post("/api/v1/api-keys", {"name": "ok", "ex\u0000tra": "\u0000"})
    assert a.status == 201, a.body


@pytest.mark.parametrize("param", ["q", "category"])
async def test_a_nul_character_in_a_query_parameter_is_422(agency: Client, param):
    a = await agency.get("/api/v1/directories", **{param: "seo\u0000"})
    assert_error(a, 422, "validation_failed", field=param)


# --- integer query parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/api-keys", "limit"),
        ("/api/v1/sites", "limit"),
        ("/api/v1/jobs", "limit"),
        ("/api/v1/backlinks", "limit"),
        ("/api/v1/directories", "limit"),
        ("/api/v1/directories", "min_dr"),
        ("/api/v1/directories", "max_dr"),
    ],
)
# (an empty value means the parameter is absent: tests/core/test_empty_query_parameters.py)
@pytest.mark.parametrize(
    "value",
    [
        "\u00b2",
        "\u0661\u0662",
        "\uff15",
        "+5",
        " 5",
        "5.0",
        pytest.param("9" * 5000, id="5000-digits"),
    ],
)
async def test_an_integer_parameter_takes_ascii_digits_only(agency: Client, path, param, value):
    """'²' passed `str.isdigit()` and then crashed `int()` (500); Arabic-Indic digits
    were quietly read as numbers; `int()` refuses more than 4,300 digits (500)."""
    a = await agency.get(path, **{param: value})
    assert_error(a, 422, "validation_failed", field=param)


# --- cursors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/api-keys",
        "/api/v1/sites",
        "/api/v1/jobs",
        "/api/v1/backlinks",
        "/api/v1/directories",
    ],
)
@pytest.mark.parametrize("key", [2**31, 2**63, 10**21, -1])
async def test_a_cursor_we_never_handed_out_is_422(agency: Client, path, key):
    """A forged cursor decoding to a number beyond the column's range was a 500."""
    a = await agency.get(path, cursor=cursor_of(key, LIST_NAMES[path]))
    if path != "/api/v1/directories" and key == 2**31:
        assert a.status == 200, a.body  # within a 64-bit sequence's range: a page
    else:
        assert_error(a, 422, "validation_failed", field="cursor")
    # a bare key (no list named) was never handed out either
    assert_error(await agency.get(path, cursor=cursor_of(key)), 422, "validation_failed", "cursor")


@pytest.mark.parametrize("key", [2**63, -1])
async def test_a_forged_events_cursor_is_422(agency: Client, key):
    site = await agency.add_site()
    job = await agency.job(site["id"], [1])
    path = f"/api/v1/jobs/{job['id']}/events"
    a = await agency.get(path, cursor=cursor_of(key, path))
    assert_error(a, 422, "validation_failed", field="cursor")


# --- 405 answers list every method of the path -----------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/api/v1/sites/site_x", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("PUT", "/api/v1/sites/site_x", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("DELETE", "/api/v1/sites", {"GET", "HEAD", "POST"}),
        ("PUT", "/api/v1/jobs", {"GET", "HEAD", "POST"}),
        ("PATCH", "/api/v1/api-keys", {"GET", "HEAD", "POST"}),
        ("GET", "/api/v1/api-keys/key_x", {"DELETE"}),
    ],
)
async def test_405_lists_every_method_of_the_path_in_allow(agency: Client, method, path, allowed):
    a = await agency.call(method, path)
    assert_error(a, 405, "method_not_allowed")
    assert {m.strip() for m in a.headers["Allow"].split(",")} == allowed


async def test_every_method_of_a_shared_path_still_reaches_its_endpoint(agency: Client):
    site = await agency.add_site()
    path = f"/api/v1/sites/{site['id']}"
    assert (await agency.get(path)).status == 200
    assert (await agency.patch(path, {"name": "Renamed"})).body["name"] == "Renamed"
    assert (await agency.delete(path)).body["status"] == "archived"
    assert (await agency.call("HEAD", "/api/v1/sites")).status == 200


# --- the OpenAPI document says what the routes accept ------------------------------------


async def test_the_document_types_query_parameters_and_headers_as_the_routes_read_them(agency):
    """Every query parameter was documented as a free string, so a schema-valid request
    (`limit=abc`) was refused and a fuzzer could not tell bad input from good."""
    doc = (await agency.get("/api/v1/openapi.json")).body
    params = {
        (path, p["name"]): p["schema"]
        for path, ops in doc["paths"].items()
        for op in ops.values()
        for p in op.get("parameters", [])
    }
    for path in ("/api/v1/sites", "/api/v1/jobs", "/api/v1/backlinks", "/api/v1/api-keys"):
        assert params[(path, "limit")] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert params[("/api/v1/directories", "min_dr")] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
    }
    assert params[("/api/v1/directories", "max_dr")]["maximum"] == 100
    assert params[("/api/v1/sites", "status")]["enum"] == ["active", "archived"]
    assert params[("/api/v1/jobs", "status")]["enum"] == [
        "queued",
        "running",
        "completed",
        "failed",
        "canceled",
    ]
    assert params[("/api/v1/backlinks", "status")]["enum"] == list(STATUSES)
    assert params[("/api/v1/backlinks", "link_type")]["enum"] == [
        "dofollow",
        "nofollow",
        "ugc",
        "sponsored",
    ]
    key = params[("/api/v1/jobs", "Idempotency-Key")]
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    # answers the routes give, documented
    login = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"400", "401", "409", "413", "415", "422", "429"} <= set(login)
    assert "409" in doc["paths"]["/api/v1/sites"]["post"]["responses"]
    assert "404" in doc["paths"]["/api/v1/sites/{site_id}"]["get"]["responses"]
    assert "text/csv" in doc["paths"]["/api/v1/backlinks"]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/sites", {"status": "deleted"}),
        ("/api/v1/jobs", {"status": "done"}),
        ("/api/v1/backlinks", {"status": "dead"}),
        ("/api/v1/backlinks", {"link_type": "follow"}),
        ("/api/v1/directories", {"max_dr": "101"}),
        ("/api/v1/directories", {"q": "x" * 101}),
        ("/api/v1/sites", {"limit": "201"}),
        ("/api/v1/sites", {"limit": "0"}),
    ],
)
async def test_values_outside_the_documented_schema_are_422(agency: Client, path, params):
    a = await agency.get(path, **params)
    assert_error(a, 422, "validation_failed", field=next(iter(params)))


# --- instants whose offset moves them out of the years 1-9999 -----------------------------

#: valid RFC 3339 texts that name no UTC date-time: the year 10000 and the year 0 in UTC
#: (`+` percent-encoded, as a client sends it)
BEYOND_UTC = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]


@pytest.mark.parametrize("instant", BEYOND_UTC)
@pytest.mark.parametrize(
    ("path", "param", "extra"),
    [
        # the audit's filters went to the database as they were: a 500, and for its CSV
        # a 200 cut off after the header
        ("/api/v1/audit", "from", {}),
        ("/api/v1/audit", "to", {}),
        ("/api/v1/audit", "from", {"format": "csv"}),
        ("/api/v1/reports/backlinks", "from", {}),
        ("/api/v1/reports/backlinks", "to", {}),
        ("/api/v1/sites/{site_id}", "as_of", {}),
    ],
)
async def test_an_instant_beyond_utc_is_422_naming_it(agency: Client, instant, path, param, extra):
    site = await agency.add_site()
    a = await agency.get(path.format(site_id=site["id"]), **{param: instant}, **extra)
    assert_error(a, 422, "validation_failed", field=param)
    assert "between the years 1 and 9999 in UTC" in a.body["error"]["details"]


async def test_the_last_and_first_utc_instants_are_still_taken(agency: Client):
    for instant in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+01:00"):
        a = await agency.get("/api/v1/audit", **{"from": instant})
        assert a.status == 200, (instant, a.body)


# --- numbers longer than `int()` reads ------------------------------------------------------


async def test_leading_zeros_do_not_count_against_a_parameters_digits(agency: Client):
    a = await agency.get("/api/v1/sites", limit="0" * 5000 + "2")
    assert a.status == 200, a.body


async def test_a_directory_id_of_thousands_of_digits_is_not_found(agency: Client):
    # Starlette's `int` path convertor raised while matching the route: a 500
    a = await agency.get("/api/v1/directories/" + "9" * 5000)
    assert_error(a, 404, "not_found")
    assert a.body["error"]["details"] == "No directory with this id."
    padded = await agency.get("/api/v1/directories/" + "0" * 5000 + "1")
    one = await agency.get("/api/v1/directories/1")
    assert (padded.status, padded.body) == (one.status, one.body)
