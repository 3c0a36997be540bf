"""The public coverage page: aggregate counts only, no directory names or URLs."""

from __future__ import annotations


async def test_coverage_counts_active_directories_by_category_and_tier(server, catalogue):
    async with server.http.get("/api/v1/public/coverage") as r:
        assert r.status == 200
        text = await r.text()
        body = await r.json()
    # catalogue: ids 1-6, all "general"; DR 21..25 and 80; 5 is paused
    assert body["total"] == 5
    assert body["dr_tiers"] == [
        {"tier": "0-29", "count": 4},
        {"tier": "30-49", "count": 0},
        {"tier": "50-69", "count": 0},
        {"tier": "70+", "count": 1},
    ]
    assert [c["category"] for c in body["categories"]] == ["general"]
    assert body["categories"][0]["count"] == 5
    assert "Dir 1" not in text and "example" not in text  # nothing operational leaks
