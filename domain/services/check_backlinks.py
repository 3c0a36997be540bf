"""Use case: check up to 25 known linking pages for a link to one domain; and the same
engine's look at one page for the evidence a backlink keeps (listings, re-checks)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import urlsplit

from domain.backlink import Evidence, evidence_of
from domain.backlink_evidence import CheckReport, CheckResult, judge, summarise
from domain.errors import InvalidUrl, TooManyUrls, ValidationFailed
from domain.ports import CheckPorts, Clock, PageInspector
from domain.target_domain import normalise_domain

MAX_URLS = 25
MAX_URL_LENGTH = 2048


def check_url(url: str, field: str) -> str:
    """An absolute http(s) URL with a host, or `InvalidUrl` naming the field."""
    text = url.strip()
    problem = _url_problem(text)
    if problem:
        raise InvalidUrl(f"{problem} Give an absolute http(s) URL.", field=field)
    return text


def _url_problem(text: str) -> str | None:
    if not text:
        return "The URL is empty."
    if len(text) > MAX_URL_LENGTH:
        return f"The URL is longer than {MAX_URL_LENGTH} characters."
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return "The URL contains spaces or control characters."
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return "The URL cannot be parsed."
    if parts.scheme.lower() not in ("http", "https"):
        return f"{text[:80]!r} is not an http(s) URL."
    if not parts.hostname:
        return f"{text[:80]!r} has no host."
    return None


def unique_urls(urls: list[str]) -> list[str]:
    """Valid, de-duplicated (first occurrence kept, input order), 1–25 of them."""
    checked = [check_url(u, f"urls[{i}]") for i, u in enumerate(urls)]
    distinct = list(dict.fromkeys(checked))
    if not distinct:
        raise ValidationFailed("Give at least one URL to check.", field="urls")
    if len(distinct) > MAX_URLS:
        raise TooManyUrls(
            f"{len(distinct)} distinct URLs given; one check takes at most {MAX_URLS}.",
            field="urls",
        )
    return distinct


async def check_backlinks(ports: CheckPorts, domain: str, urls: list[str]) -> CheckReport:
    """Validate everything first (a refused request fetches nothing), then inspect every
    URL concurrently and judge each page against the domain as soon as it is read (one
    page at a time: judging all at the end would hold the event loop for all of them)."""
    target = normalise_domain(domain, ports.names)
    distinct = unique_urls(urls)
    now: datetime = ports.clock.now()

    async def one(url: str) -> CheckResult:
        return judge(await ports.inspector.inspect(url), target, now)

    return summarise(target, list(await asyncio.gather(*(one(u) for u in distinct))))


async def evidence_at(url: str, domain: str, *, inspector: PageInspector, clock: Clock) -> Evidence:
    """Fetch one page (a listing) and read its link to the (normalised) `domain`."""
    return evidence_of(judge(await inspector.inspect(url), domain, clock.now()))
