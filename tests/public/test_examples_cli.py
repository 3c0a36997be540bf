"""`backlynk examples add|list|remove`, run as real processes against the test database:
the operator chooses verified backlinks for the public delivery-examples page, every
refusal is one line and changes nothing, and each choice records who made it and when."""

from __future__ import annotations

import getpass
import socket

import pytest

from domain import ids
from domain.backlink import Evidence
from domain.services.monitoring import record_recheck
from tests.public.conftest import (
    assert_nothing_identifying,
    catalogue_secrets,
    customer_secrets,
)
from tests.public.flows import BY_ID, choose, deliver, lose, settled
from tests.test_cli_users import backlynk

# each command is a real process: on a busy machine one takes seconds to start
pytestmark = [pytest.mark.usefixtures("demo_catalogue"), pytest.mark.timeout(300)]


async def examples(api) -> list[dict]:
    async with api.http.get("/api/v1/public/delivery-examples") as r:
        assert r.status == 200
        return (await r.json())["examples"]


async def rows(infra) -> list[dict]:
    return [dict(r) for r in await infra.pool.fetch("SELECT * FROM delivery_examples")]


async def refused(settings, infra, *args: str) -> str:
    """The command fails with one line and writes nothing."""
    before = await rows(infra)
    code, out, err = await backlynk(settings, "examples", *args)
    assert code != 0 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backlynk: "), err
    assert await rows(infra) == before
    return lines[0]


async def test_an_operator_adds_lists_and_removes_an_example(api, infra, settings, agency):
    site = await agency.add_site()
    found = await deliver(api, infra, agency, site, [2])
    assert await examples(api) == []

    code, out, err = await backlynk(
        settings, "examples", "add", found[2], "--note", "Live the same day"
    )
    assert code == 0, err
    example_id = out.split()[1]
    assert ids.decode("ex", example_id) is not None and found[2] in out

    [shown] = await examples(api)
    assert shown["id"] == example_id and shown["note"] == "Live the same day"
    assert shown["dr_tier"] == "30-49" and shown["category"] is None  # one saas in 30-49
    assert shown["evidence"] | {"checked_at": None} == {
        "listing_url": "https://directory.example/listing",
        "link_found": True,
        "link_type": "dofollow",
        "anchor": "the site's name",
        "rel_attributes": [],
        "target_url": "https://customer.example/",
        "http_status": 200,
        "indexable": True,
        "checked_at": None,
    }

    code, out, err = await backlynk(settings, "examples", "list")
    assert code == 0, err
    [line] = out.strip().splitlines()
    operator = f"{getpass.getuser()}@{socket.gethostname()}"
    assert line.startswith(f"{example_id}  {found[2]}  DR 30-49  shown  added by {operator}")
    assert line.endswith("note: Live the same day")

    code, out, err = await backlynk(settings, "examples", "remove", example_id)
    assert (code, out.strip()) == (0, f"removed {example_id}"), err
    assert await examples(api) == []
    code, out, err = await backlynk(settings, "examples", "list")
    assert (code, out) == (0, "") and "no delivery examples" in err
    # the audit keeps who added and who removed it, and when
    [row] = await rows(infra)
    assert row["added_by"] == row["removed_by"] == operator
    assert row["added_at"] <= row["removed_at"]

    # removed, the backlink may be chosen again
    await choose(infra, found[2])
    assert len(await examples(api)) == 1


async def test_add_refuses_an_unknown_lost_or_shown_backlink(api, infra, settings, agency):
    site = await agency.add_site()
    found = await deliver(api, infra, agency, site, [1, 2], lost=(2,))
    example_id = await choose(infra, found[1])

    unknown = ids.encode("bl", ids.derived("no such backlink"))
    assert "no backlink has the id" in await refused(settings, infra, "add", unknown)
    assert "not a backlink id" in await refused(settings, infra, "add", "bl_nothex")
    assert "not a backlink id" in await refused(settings, infra, "add", example_id)
    assert "is lost" in await refused(settings, infra, "add", found[2])
    assert "already" in await refused(settings, infra, "add", found[1])


async def test_add_refuses_a_backlink_no_directory_gave(api, infra, settings, agency):
    """A link the customer added for monitoring (`POST /backlinks`) shows nothing we
    delivered: refused while pending, and still once a check has found it live."""
    site = await agency.add_site()
    added = await agency.post(
        "/api/v1/backlinks", {"site_id": site["id"], "source_url": "http://127.0.0.1:9/partners"}
    )
    assert added.status == 201, added.body
    assert added.body["status"] == "pending" and added.body["directory_id"] is None
    assert "no directory gave" in await refused(settings, infra, "add", added.body["id"])
    found = Evidence(
        source_url="http://127.0.0.1:9/partners",
        has_link=True,
        target_url=site["url"],
        anchor_text=site["name"],
        link_type="dofollow",
        http_status=200,
        indexable=True,
    )
    live = await record_recheck(infra.repository, ids.decode("bl", added.body["id"]), found)
    assert live.status == "live"
    await settled(api, infra)
    assert "no directory gave" in await refused(settings, infra, "add", added.body["id"])
    assert await examples(api) == []


async def test_add_refuses_a_note_that_names_a_directory_or_the_customer(
    api, infra, settings, agency
):
    site = await agency.add_site()
    found = await deliver(api, infra, agency, site, [3])
    # the note is shown publicly: naming a directory or the customer is refused
    for note in ("Sandbox Local Listings was quick", f"great for {site['domain']}"):
        line = await refused(settings, infra, "add", found[3], "--note", note)
        assert "public examples never identify" in line
    assert "one line" in await refused(settings, infra, "add", found[3], "--note", "a\nb")


async def test_remove_refuses_an_unknown_or_removed_example(api, infra, settings, agency):
    site = await agency.add_site()
    found = await deliver(api, infra, agency, site, [1])
    example_id = await choose(infra, found[1])
    unknown_example = ids.encode("ex", ids.derived("no such example"))
    assert "no delivery example" in await refused(settings, infra, "remove", unknown_example)
    assert "not an example id" in await refused(settings, infra, "remove", found[1])
    code, _, err = await backlynk(settings, "examples", "remove", example_id)
    assert code == 0, err
    assert "no delivery example" in await refused(settings, infra, "remove", example_id)


async def test_a_lost_example_is_hidden_until_its_link_is_back(api, infra, settings, agency):
    site = await agency.add_site()
    found = await deliver(api, infra, agency, site, [9])
    code, out, err = await backlynk(settings, "examples", "add", found[9])
    assert code == 0, err
    backlink_id = ids.decode("bl", found[9])
    listing = BY_ID[9].listing_url_template.format(domain=site["domain"])
    await lose(infra.repository, backlink_id, listing, http_status=404)
    await settled(api, infra)
    assert await examples(api) == []
    code, out, _ = await backlynk(settings, "examples", "list")
    assert "hidden: the backlink is lost" in out
    back = Evidence(listing, has_link=True, target_url=site["url"], http_status=200)
    await record_recheck(infra.repository, backlink_id, back)
    await settled(api, infra)
    assert len(await examples(api)) == 1


async def test_the_examples_json_names_no_directory_and_no_customer(
    api, infra, settings, agency, demo_catalogue
):
    sites = [await agency.add_site(), await agency.add_site()]
    chosen = []
    chosen += (await deliver(api, infra, agency, sites[0], [1, 3, 5, 8])).values()
    chosen += (await deliver(api, infra, agency, sites[1], [2, 4], anchor="Visit us")).values()
    for backlink_id in chosen:
        await choose(infra, backlink_id)  # as `examples add` does (tested above)
    async with api.http.get("/api/v1/public/delivery-examples") as r:
        text = await r.text()
        assert r.headers["Cache-Control"] == "public, max-age=60"
    shown = await examples(api)
    assert len(shown) == 6
    assert {e["evidence"]["anchor"] for e in shown} == {"the site's name", "other text"}
    assert {e["evidence"]["link_type"] for e in shown} == {"dofollow", "nofollow"}
    secrets = catalogue_secrets(demo_catalogue) + customer_secrets(sites) + chosen
    assert_nothing_identifying(text, secrets, "/api/v1/public/delivery-examples")
