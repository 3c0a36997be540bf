"""A cursor pages the list that handed it out, and no other (API.md is silent; Stripe and
GitHub refuse a foreign cursor): another list's cursor, or another job's, is 422 naming
`cursor` rather than a page of rows silently cut at a position that means nothing there."""

from __future__ import annotations

import pytest

from tests.core.client import Client, assert_error

pytestmark = pytest.mark.usefixtures("catalogue")


async def next_cursor(client: Client, path: str) -> str:
    page = await client.get(path, limit=1)
    assert page.status == 200 and page.body["pagination"]["has_more"], (path, page.body)
    return page.body["pagination"]["next_cursor"]


@pytest.fixture
async def lists(pro: Client) -> dict[str, str]:
    """Two of everything, so each list hands out a cursor: path -> its cursor."""
    site = await pro.add_site()
    await pro.add_site()
    job = await pro.job(site["id"], [1])
    await pro.job(site["id"], [2])
    other = await pro.job(site["id"], [3])
    for canceled in (job, other):  # a second event in each job's history
        assert (await pro.post(f"/api/v1/jobs/{canceled['id']}/cancel")).status == 202
    for name in ("a", "b"):
        assert (await pro.post("/api/v1/api-keys", {"name": name})).status == 201
    paths = [
        "/api/v1/sites",
        "/api/v1/jobs",
        "/api/v1/api-keys",
        "/api/v1/directories",
        f"/api/v1/jobs/{job['id']}/events",
        f"/api/v1/jobs/{other['id']}/events",
    ]
    return {path: await next_cursor(pro, path) for path in paths}


async def test_each_list_takes_its_own_cursor(pro: Client, lists: dict[str, str]):
    for path, cursor in lists.items():
        page = await pro.get(path, limit=1, cursor=cursor)
        assert page.status == 200, (path, page.body)
        assert page.body["data"], path


async def test_a_cursor_from_another_list_is_refused(pro: Client, lists: dict[str, str]):
    for path in lists:
        for source, cursor in lists.items():
            if source != path:
                answer = await pro.get(path, cursor=cursor)
                assert_error(answer, 422, "validation_failed", "cursor")
