"""`GET /api/v1/openapi.json` (OpenAPI 3.1 from the msgspec structs) and `GET /docs`."""

from __future__ import annotations

from starlette.routing import Route

from api import metrics, web
from api.app import routes
from api.openapi import document_path


def every_route() -> set[tuple[str, str]]:
    """Every route but the operator's `/metrics` and the pages for people (`api.web`),
    which the document leaves out."""
    left_out = {
        route.path for route in [*metrics.routes(), *web.routes()] if isinstance(route, Route)
    }
    return {
        (method, document_path(route.path))
        for route in routes()
        if isinstance(route, Route) and route.path not in left_out
        for method in route.methods or ()
        if method != "HEAD"
    }


async def test_openapi_document_lists_every_route(api):
    async with api.http.get("/api/v1/openapi.json") as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    assert documented == every_route()
    schemas = doc["components"]["schemas"]
    # every $ref resolves
    text = str(doc)
    for ref in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert ref in schemas, ref
    # generated from the structs the routes use
    site = schemas["SiteOut"]
    assert set(site["required"]) >= {"id", "url", "domain", "status", "created_at"}
    job_in = schemas["CreateJobIn"]
    assert job_in["required"] == ["site_id"]
    assert job_in["properties"]["directory_ids"]["anyOf"][0]["items"]["minimum"] == 1
    create_job = doc["paths"]["/api/v1/jobs"]["post"]
    assert "202" in create_job["responses"] and "422" in create_job["responses"]
    assert create_job["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateJobIn"
    }
    assert {p["name"] for p in doc["paths"]["/api/v1/directories"]["get"]["parameters"]} >= {
        "category",
        "min_dr",
        "max_dr",
        "q",
        "limit",
        "cursor",
    }
    listed = doc["paths"]["/api/v1/directories"]["get"]["parameters"]
    assert next(p for p in listed if p["name"] == "sort")["schema"]["enum"] == ["dr", "-dr", "name"]
    one = doc["paths"]["/api/v1/directories/{directory_id}"]["get"]
    assert one["parameters"][0]["schema"]["type"] == "integer" and "404" in one["responses"]
    assert set(schemas["DirectoryOut"]["required"]) >= {"created_at", "updated_at"}
    assert "security" not in doc["paths"]["/api/v1/public/coverage"]["get"]
    assert doc["paths"]["/api/v1/sites"]["get"]["security"]


async def test_docs_page_renders_the_document(api):
    async with api.http.get("/docs") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        page = await r.text()
    # the body's fields inline, not a schema's name to look up (tests/core/test_api_reference.py)
    assert "POST /api/v1/jobs" in page and "<code>contact_email</code>" in page
    assert "<script" not in page
