"""Submitting a site to a directory: the `form` and `json` methods of the catalogue.

A submitter answers with a domain outcome — `Submitted` (with the listing URL when it can
tell), `Failed` (for good: captcha_required, rejected, form_not_found,
directory_unavailable) or `RetryLater` (transient: timeouts, 5xx, connection errors) —
and never raises for anything the directory does.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import aiohttp
import msgspec

from adapters import forms
from domain.directory import Directory
from domain.services.submissions import Failed, Outcome, RetryLater, Submitted
from domain.site import SiteFacts

SUBMISSION_TIMEOUT = 30.0
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def _unavailable(status: int) -> RetryLater:
    return RetryLater("directory_unavailable", f"The directory answered HTTP {status}.")


def _transport_failure(exc: BaseException) -> Outcome:
    if isinstance(exc, TimeoutError):
        return RetryLater("timeout", "The directory did not answer in time.")
    text = str(exc)
    if "blocked" in text.lower():  # the SSRF guard refused the address
        return Failed("directory_unavailable", text[:300])
    return RetryLater("directory_unavailable", f"Could not reach the directory: {text[:200]}")


SessionFactory = Callable[[], aiohttp.ClientSession]

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_BODY = 2_000_000


@dataclass
class Answer:
    status: int
    url: str
    body: bytes
    redirected: bool

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


async def _send(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Answer:
    """One request, redirects followed by hand (each hop goes through the session's
    address vetting); a POST answered with 301/302/303 continues as a GET, as browsers do."""
    redirected = False
    for _ in range(MAX_REDIRECTS + 1):
        async with session.request(method, url, allow_redirects=False, **kwargs) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location:
                url = urljoin(url, location)
                redirected = True
                if response.status in (301, 302, 303):
                    method, kwargs = "GET", {}
                continue
            body = await response.content.read(MAX_BODY)
            return Answer(response.status, str(response.url), body, redirected)
    raise aiohttp.TooManyRedirects(None, (), message="too many redirects")


class Submitter:
    """Submits through sessions from `open_session` (one per submission, so cookies stay
    with it); production passes sessions on the SSRF-guarded connector."""

    def __init__(self, open_session: SessionFactory, *, timeout: float = SUBMISSION_TIMEOUT):
        self.open_session = open_session
        self.timeout = timeout

    async def submit(self, directory: Directory, site: SiteFacts) -> Outcome:
        try:
            async with asyncio.timeout(self.timeout), self.open_session() as session:
                if directory.method == "json":
                    return await self._json(session, directory, site)
                return await self._form(session, directory, site)
        except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            return _transport_failure(exc)

    async def _form(
        self, session: aiohttp.ClientSession, directory: Directory, site: SiteFacts
    ) -> Outcome:
        async with session.get(directory.submit_url) as page:
            text = await page.text(errors="replace")
            if page.status >= 500 or page.status in TRANSIENT_STATUSES:
                return _unavailable(page.status)
            if page.status >= 400:
                return Failed(
                    "directory_unavailable", f"The submission page answered HTTP {page.status}."
                )
            page_url = str(page.url)
        doc = forms.parse(text)
        if doc is None:
            return Failed("form_not_found", "The submission page is not HTML.")
        if forms.has_captcha(doc):
            return Failed(
                "captcha_required",
                "The directory's form is protected by a captcha; submit to it by hand.",
            )
        filled = forms.fill(doc, page_url, dict(directory.field_map), site.values())
        if filled is None:
            return Failed("form_not_found", "No form on the submission page takes a website URL.")
        send = (
            session.post(filled.action, data=filled.data)
            if filled.method == "POST"
            else session.get(filled.action, params=filled.data)
        )
        async with send as answer:
            body = await answer.text(errors="replace")
            status, final_url, redirected = answer.status, str(answer.url), bool(answer.history)
        if status >= 500 or status in TRANSIENT_STATUSES:
            return _unavailable(status)
        result_doc = forms.parse(body)
        message = forms.error_message(result_doc) if result_doc is not None else None
        if status >= 400:
            return Failed("rejected", message or f"The directory answered HTTP {status}.")
        if directory.success_pattern and not re.search(directory.success_pattern, body):
            return Failed("rejected", message or "The directory did not confirm the submission.")
        if message and not directory.success_pattern:
            return Failed("rejected", message)
        listing = final_url if redirected and final_url != filled.action else None
        return Submitted(listing or directory.listing_url_for(site))

    async def _json(
        self, session: aiohttp.ClientSession, directory: Directory, site: SiteFacts
    ) -> Outcome:
        values = site.values()
        payload = {name: values[f] for f, name in directory.field_map.items() if f in values}
        async with session.post(
            directory.submit_url, json=payload, headers=dict(directory.headers)
        ) as answer:
            status = answer.status
            raw = await answer.read()
        if status >= 500 or status in TRANSIENT_STATUSES:
            return _unavailable(status)
        body: Any = None
        try:
            body = msgspec.json.decode(raw) if raw else None
        except msgspec.DecodeError:
            body = None
        if status >= 400:
            said = body.get("error") or body.get("message") if isinstance(body, dict) else None
            return Failed("rejected", str(said or f"The directory answered HTTP {status}.")[:300])
        listing = None
        returned_id = None
        if isinstance(body, dict):
            listing = next(
                (
                    body[k]
                    for k in ("listing_url", "url", "permalink")
                    if isinstance(body.get(k), str)
                ),
                None,
            )
            returned_id = body.get("id")
        return Submitted(listing or directory.listing_url_for(site, returned_id))
