"""A hostile directory: its answers carry NUL and other control characters, megabyte
values and deep JSON. Whatever it sends, the task settles, the events are stored, the
read models apply them and the API shows clean, capped strings (adapters.untrusted)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import web

from adapters import untrusted
from domain.services import verification
from domain.services.delivery import deliver
from tests.flows.support import add_directories, delivery, json_directory, new_job, task_of

MB = 1 << 20
POISON = "\x00\x01\x07\x1b\x7f\x85\x9b"
#: in HTML a NUL is U+FFFD once parsed, as in browsers: pages carry the other controls
HTML_POISON = POISON.replace("\x00", "")

pytestmark = pytest.mark.timeout(120)


def json_answer(body: bytes, status: int = 201) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


class HostileDirectory:
    """One loopback server with a route per trick; `linked_domain` is the site its
    listing page links to."""

    def __init__(self) -> None:
        self.linked_domain = "example.com"
        app = web.Application(client_max_size=4 * MB)
        app.add_routes(
            [
                web.post("/json/poisoned-listing", self.poisoned_listing),
                web.post("/json/poisoned-error", self.poisoned_error),
                web.post("/json/deep", self.deep),
                web.get("/listing/{tail:.*}", self.listing),
                web.get("/form", self.form_page),
                web.post("/form", self.form_answer),
            ]
        )
        self.runner = web.AppRunner(app)
        self.base = ""

    async def __aenter__(self) -> HostileDirectory:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()

    def listing_url(self) -> str:
        return f"{self.base}/listing/p{POISON}" + "a" * self.listing_length

    listing_length = 1500

    async def poisoned_listing(self, request: web.Request) -> web.Response:
        noise = b"[" * 200 + b"]" * 200
        body = b'{"noise": ' + noise + b', "listing_url": ' + msgspec.json.encode(
            self.listing_url()
        ) + b"}"  # fmt: skip
        return json_answer(body)

    async def poisoned_error(self, request: web.Request) -> web.Response:
        said = f"Bad{POISON} request\r\n\t" + "!" * MB
        return json_answer(msgspec.json.encode({"error": said}), status=422)

    async def deep(self, request: web.Request) -> web.Response:
        # deeper than any JSON decoder recurses: it used to raise out of the submitter
        return json_answer(
            b'{"listing_url": "/x", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        )

    async def listing(self, request: web.Request) -> web.Response:
        anchor = f"Our{HTML_POISON} friend" + " word" * (MB // 5)
        page = (
            f"<html><body><a href='https://{self.linked_domain}/x{HTML_POISON}{'y' * 5000}' "
            f"rel='ugc{HTML_POISON} nofollow'>{anchor}</a></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def form_page(self, request: web.Request) -> web.Response:
        big = "z" * (MB // 2)  # three of them: the page stays under the 2 MB read limit
        page = (
            f"<form method='post' action='/form'><input type='hidden' name='t' value='{big}'>"
            f"<input name='website' placeholder='Your website {big}' class='{big}'>"
            "<input type='submit' name='go'></form>"
        )
        return web.Response(text=page, content_type="text/html")

    async def form_answer(self, request: web.Request) -> web.Response:
        boxes = ('<div class="error">' + "<i></i>" * 1000) * 200 + "</div>" * 200
        page = boxes + f"<p class='error'>Refused{HTML_POISON}: " + "no " * MB + "</p>"
        return web.Response(text=page, content_type="text/html")


@pytest.fixture
async def hostile() -> AsyncIterator[HostileDirectory]:
    async with HostileDirectory() as directory:
        yield directory


def assert_clean(value: Any) -> None:
    """No control character or lone surrogate anywhere in an API answer."""
    text = msgspec.json.encode(value).decode()
    decoded = msgspec.json.decode(text)
    for s in _strings(decoded):
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s), s[:80]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def shown_job(agency, job: dict) -> dict:
    answer = await agency.get(f"/api/v1/jobs/{job['id']}")
    assert answer.status == 200, answer.body
    events = await agency.get(f"/api/v1/jobs/{job['id']}/events")
    assert events.status == 200, events.body
    assert_clean(answer.body)
    assert_clean(events.body)
    return answer.body


async def test_a_poisoned_listing_url_and_listing_page_become_clean_events_and_rows(
    api, infra, isolated_settings, agency, hostile
):
    await add_directories(infra, json_directory(31, f"{hostile.base}/json/poisoned-listing"))
    job, job_id, domain = await new_job(agency, [31])
    hostile.linked_domain = domain
    d = delivery(infra, isolated_settings)
    assert await deliver(d, job_id, 31) == "Submitted"

    expected = f"{hostile.base}/listing/p" + "a" * 1500  # control characters removed
    task = (await shown_job(agency, job))["tasks"][0]
    assert (task["status"], task["listing_url"]) == ("submitted", expected)

    assert await verification.verify(d, job_id, 31, 0) == ("verified", None)
    assert (await task_of(infra, job_id, 31)).status == "verified"
    await shown_job(agency, job)
    answer = await agency.get("/api/v1/backlinks", site_id=job["site_id"])
    assert answer.status == 200, answer.body
    [backlink] = answer.body["data"]
    assert_clean(backlink)
    assert backlink["source_url"] == expected
    assert " ".join(backlink["anchor_text"].split()).startswith("Our friend word word")
    assert len(backlink["anchor_text"]) == untrusted.MAX_TEXT
    assert backlink["target_url"].startswith(f"https://{domain}/xyyy")
    assert len(backlink["target_url"]) == untrusted.MAX_URL
    assert backlink["rel_attributes"] == ["ugc", "nofollow"]
    assert backlink["link_type"] == "ugc"


async def test_a_listing_url_too_long_to_keep_is_ignored_not_truncated(
    api, infra, isolated_settings, agency, hostile
):
    hostile.listing_length = MB
    await add_directories(infra, json_directory(35, f"{hostile.base}/json/poisoned-listing"))
    job, job_id, _ = await new_job(agency, [35])
    d = delivery(infra, isolated_settings)
    assert await deliver(d, job_id, 35) == "Submitted"
    task = (await shown_job(agency, job))["tasks"][0]
    # a cut URL would be one the directory never gave: no listing URL instead
    assert (task["status"], task["listing_url"]) == ("submitted", None)


async def test_a_poisoned_error_message_is_stored_clean(
    api, infra, isolated_settings, agency, hostile
):
    await add_directories(infra, json_directory(32, f"{hostile.base}/json/poisoned-error"))
    job, job_id, _ = await new_job(agency, [32])
    assert await deliver(delivery(infra, isolated_settings), job_id, 32) == "Failed"
    task = (await shown_job(agency, job))["tasks"][0]
    assert task["status"] == "failed" and task["error"]["code"] == "rejected"
    assert " ".join(task["error"]["details"].split()).startswith("Bad request !!!")
    assert len(task["error"]["details"]) <= untrusted.MAX_TEXT


async def test_json_deeper_than_any_decoder_is_no_answer_not_a_crash(
    api, infra, isolated_settings, agency, hostile
):
    await add_directories(infra, json_directory(33, f"{hostile.base}/json/deep"))
    job, job_id, _ = await new_job(agency, [33])
    assert await deliver(delivery(infra, isolated_settings), job_id, 33) == "Submitted"
    task = (await shown_job(agency, job))["tasks"][0]
    # the answer could not be read, so it names no listing (and no template gives one)
    assert (task["status"], task["listing_url"]) == ("submitted", None)


async def test_a_hostile_form_page_and_answer_are_read_and_the_error_stored_clean(
    api, infra, isolated_settings, agency, hostile
):
    entry = json_directory(34, f"{hostile.base}/form", method="form", field_map={"url": "website"})
    await add_directories(infra, entry)
    job, job_id, _ = await new_job(agency, [34])
    assert await deliver(delivery(infra, isolated_settings), job_id, 34) == "Failed"
    task = (await shown_job(agency, job))["tasks"][0]
    assert task["status"] == "failed" and task["error"]["code"] == "rejected"
    # (NEL, U+0085, is a line break: the text around it is two words)
    assert task["error"]["details"].startswith("Refused : no no no")
    assert len(task["error"]["details"]) <= 300
