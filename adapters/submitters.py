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
from typing import Any, TypeVar
from urllib.parse import urljoin

import aiohttp
import msgspec
from yarl import URL

from adapters import charset, forms, metrics, untrusted
from adapters.parsing_pool import OFF_LOOP_BYTES
from adapters.ssrf import BlockedAddress
from domain.directory import Directory, SubmissionAnswer
from domain.services.delivery import Failed, Outcome, RetryLater, Submitted
from domain.site import SiteFacts

SUBMISSION_TIMEOUT = 30.0
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def _unavailable(status: int) -> RetryLater:
    return RetryLater("directory_unavailable", f"The directory answered HTTP {status}.")


def _blocked(exc: BaseException) -> BlockedAddress | None:
    """The SSRF guard's refusal, however aiohttp wrapped it (a connector error around the
    resolver's, or the trace hook's own for a literal address)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BlockedAddress):
            return seen
        seen = seen.__cause__ or getattr(seen, "os_error", None)
    return None


def _transport_failure(exc: BaseException) -> Outcome:
    if isinstance(exc, TimeoutError):
        return RetryLater("timeout", "The directory did not answer in time.")
    if isinstance(exc, TooManyRedirects | CrossOriginRedirect):
        return Failed("directory_unavailable", str(exc)[:300])
    blocked = _blocked(exc)
    if blocked is not None:
        # for good: the address will not become public by waiting
        return Failed("directory_unavailable", f"The directory is not reachable: {blocked}"[:300])
    return RetryLater("directory_unavailable", f"Could not reach the directory: {str(exc)[:200]}")


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
    content_type: str | None = None

    @property
    def text(self) -> str:
        """The body decoded as a browser would (BOM, header, meta charset, windows-1252)."""
        return charset.decode(self.body, self.content_type)


T = TypeVar("T")


async def _off_loop(answer: Answer, work: Callable[[], T]) -> T:
    """Decoding and parsing a big answer happen in a worker thread: a worker's loop has
    no other requests to serve, so a thread is enough here (see adapters.parsing_pool)."""
    if len(answer.body) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(work)
    return work()


_NULL = msgspec.Raw(b"null")


class JsonAnswer(msgspec.Struct):
    """The members of a directory's JSON answer that we read. Each is kept raw and read
    on its own, so one of an unexpected type does not hide the others; every other
    member is skipped by the decoder without being built."""

    listing_url: msgspec.Raw = _NULL
    url: msgspec.Raw = _NULL
    permalink: msgspec.Raw = _NULL
    id: msgspec.Raw = _NULL
    error: msgspec.Raw = _NULL
    message: msgspec.Raw = _NULL

    @classmethod
    def read(cls, raw: bytes) -> JsonAnswer | None:
        """None when the body is not a JSON object (or nests deeper than msgspec reads)."""
        try:
            return msgspec.json.decode(raw, type=cls) if raw else None
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None

    @staticmethod
    def string(raw: msgspec.Raw) -> str | None:
        try:
            return msgspec.json.decode(raw, type=str | None)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None

    def listing(self) -> str | None:
        """The listing URL given, control characters removed. A URL too long to keep stays
        too long (one character past the cap), so the domain's rule ignores it rather
        than taking a truncated URL for the directory's."""
        given = (
            self.string(self.listing_url) or self.string(self.url) or self.string(self.permalink)
        )
        return None if given is None else untrusted.url(given, untrusted.MAX_URL + 1)

    def returned_id(self) -> str | int | None:
        try:
            found = msgspec.json.decode(self.id, type=str | int | None)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        return untrusted.text(found, 200) if isinstance(found, str) else found

    def said(self) -> str | None:
        return self.string(self.error) or self.string(self.message)


def _clean(outcome: Outcome) -> Outcome:
    """What the directory said, made safe to become an event (`adapters.untrusted`)."""
    if isinstance(outcome, Submitted):
        return Submitted(untrusted.optional_url(outcome.listing_url))
    return type(outcome)(outcome.code, untrusted.text(outcome.details))


async def _send(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Answer:
    """One request, redirects followed by hand: aiohttp vets only the first URL of a
    request it redirects itself, so each hop is a request of its own and goes through the
    session's address vetting.

    * 301/302 to a POST, and 303, continue as a GET without the body, as browsers do;
      307/308 repeat the request with its body — to the same origin only.
    * A redirect to another origin (scheme, host, port) drops the catalogue's extra
      headers (often an API key) for the rest of the submission, and never carries the
      body there: a 307/308 that would re-send it ends the submission instead
      (`CrossOriginRedirect`). Following it as a GET would submit nothing and could be
      mistaken for success.
    * A GET form's fields (`params`) belong to the first URL; the `Location` of a redirect
      is used as it is."""
    redirected = False
    origin = URL(url).origin()
    for _ in range(MAX_REDIRECTS + 1):
        async with session.request(method, url, allow_redirects=False, **kwargs) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location:
                url = urljoin(str(response.url), location)
                redirected = True
                kwargs.pop("params", None)
                keeps_body = response.status in (307, 308)
                if not keeps_body and method != "HEAD":
                    method = "GET"
                    kwargs.pop("data", None)
                    kwargs.pop("json", None)
                if URL(url).origin() != origin:
                    if keeps_body and ("data" in kwargs or "json" in kwargs):
                        raise CrossOriginRedirect(
                            f"The directory redirected the submission (HTTP {response.status}) "
                            f"to another host, {URL(url).host}; a submission is never sent "
                            "to another host than the catalogue's submit_url."
                        )
                    kwargs.pop("headers", None)
                continue
            body = bytearray()
            while len(body) < MAX_BODY:  # read() returns what has arrived, not all of it
                chunk = await response.content.read(MAX_BODY - len(body))
                if not chunk:
                    break
                body += chunk
            return Answer(
                response.status,
                str(response.url),
                bytes(body),
                redirected,
                response.headers.get("Content-Type"),
            )
    raise TooManyRedirects(f"More than {MAX_REDIRECTS} redirects from the directory.")


class TooManyRedirects(aiohttp.ClientError):
    pass


class CrossOriginRedirect(aiohttp.ClientError):
    pass


_OUTCOME_LABELS = {Submitted: "submitted", Failed: "failed", RetryLater: "retry_later"}


class Submitter:
    """Submits through sessions from `open_session` (one per submission, so cookies stay
    with it); production passes sessions on the SSRF-guarded connector."""

    def __init__(self, open_session: SessionFactory, *, timeout: float = SUBMISSION_TIMEOUT):
        self.open_session = open_session
        self.timeout = timeout

    async def submit(self, directory: Directory, site: SiteFacts) -> Outcome:
        outcome = await self._attempt(directory, site)
        code = "" if isinstance(outcome, Submitted) else outcome.code
        metrics.SUBMISSIONS.labels(_OUTCOME_LABELS[type(outcome)], code).inc()
        return outcome

    async def _attempt(self, directory: Directory, site: SiteFacts) -> Outcome:
        try:
            async with asyncio.timeout(self.timeout), self.open_session() as session:
                if directory.method == "json":
                    return _clean(await self._json(session, directory, site))
                return _clean(await self._form(session, directory, site))
        except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            return _clean(_transport_failure(exc))

    async def _form(
        self, session: aiohttp.ClientSession, directory: Directory, site: SiteFacts
    ) -> Outcome:
        page = await _send(session, "GET", directory.submit_url)
        if page.status >= 500 or page.status in TRANSIENT_STATUSES:
            return _unavailable(page.status)
        if page.status >= 400:
            return Failed(
                "directory_unavailable", f"The submission page answered HTTP {page.status}."
            )
        form_page = await _off_loop(
            page,
            lambda: forms.read_form_page(
                page.text, page.url, dict(directory.field_map), site.values()
            ),
        )
        if not form_page.html:
            return Failed("form_not_found", "The submission page is not HTML.")
        if form_page.captcha:
            return Failed(
                "captcha_required",
                "The directory's form is protected by a captcha; submit to it by hand.",
            )
        filled = form_page.filled
        if filled is None:
            return Failed("form_not_found", "No form on the submission page takes a website URL.")
        answer = (
            await _send(session, "POST", filled.action, data=filled.data)
            if filled.method == "POST"
            else await _send(session, "GET", filled.action, params=filled.data)
        )
        status = answer.status
        if status >= 500 or status in TRANSIENT_STATUSES:
            return _unavailable(status)
        body = await _off_loop(answer, lambda: answer.text)
        message = await _off_loop(answer, lambda: forms.answer_error(body))
        if status >= 400:
            return Failed("rejected", message or f"The directory answered HTTP {status}.")
        if directory.success_pattern and not re.search(directory.success_pattern, body):
            return Failed("rejected", message or "The directory did not confirm the submission.")
        if message and not directory.success_pattern:
            return Failed("rejected", message)
        redirected_to = answer.url if answer.redirected and answer.url != filled.action else None
        return Submitted(directory.listing_url(site, SubmissionAnswer(redirected_to=redirected_to)))

    async def _json(
        self, session: aiohttp.ClientSession, directory: Directory, site: SiteFacts
    ) -> Outcome:
        values = site.values()
        payload = {name: values[f] for f, name in directory.field_map.items() if f in values}
        answer = await _send(
            session, "POST", directory.submit_url, json=payload, headers=dict(directory.headers)
        )
        status = answer.status
        if status >= 500 or status in TRANSIENT_STATUSES:
            return _unavailable(status)
        body = JsonAnswer.read(answer.body)
        if status >= 400:
            said = body.said() if body is not None else None
            return Failed("rejected", (said or f"The directory answered HTTP {status}.")[:300])
        answered = SubmissionAnswer(
            listing_url=body.listing() if body is not None else None,
            returned_id=body.returned_id() if body is not None else None,
        )
        return Submitted(directory.listing_url(site, answered))
