"""An empty query parameter means the parameter is absent, on every list (API.md,
Conventions): `?status=&site_id=&min_dr=` answers exactly what no parameter answers —
where a filled-in bad value is a 422 naming it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.client import Client, assert_error
from tests.core.test_backlinks_api import discover

pytestmark = pytest.mark.usefixtures("catalogue")

#: every query parameter any list reads
EVERY = ("status", "site_id", "min_dr", "max_dr", "link_type", "category", "q", "sort")
PAGING = ("cursor", "limit", "format")


def empty(*names: str) -> str:
    return "&".join(f"{n}=" for n in names)


async def raw_get(client: Client, path_and_query: str) -> Any:
    """GET exactly this query string (aiohttp's `params` would re-encode it)."""
    async with client.server.http.get(path_and_query, headers=client.headers) as r:
        assert r.content_type == "application/json", await r.text()
        return r.status, await r.json()


@pytest.fixture
async def filled(api, infra, agency: Client) -> dict[str, str]:
    """An account with something in every list: two sites, jobs, a backlink, a key."""
    site = await agency.add_site()
    await agency.add_site()
    await discover(api, infra, agency, site, 1)
    job = await agency.job(site["id"], [2, 3])
    key = await agency.post("/api/v1/api-keys", {"name": "ci"})
    assert key.status == 201, key.body
    return {"job": job["id"]}


async def test_empty_parameters_are_absent_on_every_list(agency: Client, filled):
    lists = [
        "/api/v1/sites",
        "/api/v1/jobs",
        "/api/v1/directories",
        "/api/v1/backlinks",
        "/api/v1/api-keys",
        f"/api/v1/jobs/{filled['job']}/events",
    ]
    for path in lists:
        plain = await agency.get(path)
        assert plain.status == 200, (path, plain.body)
        assert plain.body["data"], path  # something to compare
        for query in (
            empty(*EVERY, *PAGING),
            empty(*PAGING),
            "status&site_id&min_dr&q",  # no `=` at all: empty as well
            "status=&status=&limit=",
        ):
            status, body = await raw_get(agency, f"{path}?{query}")
            assert (status, body) == (200, plain.body), (path, query, body)


async def test_an_empty_parameter_beside_a_filled_one_leaves_the_filled_one(agency: Client, filled):
    status, body = await raw_get(agency, "/api/v1/directories?min_dr=&max_dr=22&q=&sort=-dr")
    assert status == 200 and [d["id"] for d in body["data"]] == [2, 1]
    status, body = await raw_get(agency, "/api/v1/directories?limit=&limit=2&cursor=")
    assert status == 200 and body["pagination"]["limit"] == 2
    status, body = await raw_get(agency, "/api/v1/jobs?status=&status=queued&site_id=")
    assert status == 200 and {j["status"] for j in body["data"]} == {"queued"}


async def test_filled_bad_values_are_still_refused(agency: Client, filled):
    for path, name, value in [
        ("/api/v1/directories", "min_dr", "x"),
        ("/api/v1/directories", "sort", "up"),
        ("/api/v1/jobs", "status", "done"),
        ("/api/v1/backlinks", "link_type", "none"),
        ("/api/v1/sites", "status", "gone"),
        ("/api/v1/api-keys", "limit", "0"),
    ]:
        assert_error(await agency.get(path, **{name: value}), 422, "validation_failed", name)
    assert_error(await agency.get("/api/v1/jobs", site_id="site_x"), 404, "not_found", "site_id")
    # a space is a value, not nothing
    assert_error(await agency.get("/api/v1/jobs", status=" "), 422, "validation_failed", "status")
