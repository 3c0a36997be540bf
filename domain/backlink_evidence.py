"""The rules of evidence: how the facts read from a fetched page become one result of a
backlink check (API.md, "Backlink check"). Pure: the facts come from a `PageInspector`
port, the clock from the caller."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import msgspec

from domain import robots
from domain.link_types import NOT_FOLLOWED, LinkType, link_type_of


class Hop(msgspec.Struct, rename="camel"):
    """A response that sent us on: its URL and status (a meta refresh has the status of
    the page that carried it)."""

    url: str
    http_status: int


class CheckError(msgspec.Struct):
    """Why a URL could not be checked to the end: `timeout`, `dns_error`,
    `connection_error`, `tls_error`, `blocked_address`, `too_large`, `invalid_url`,
    `redirect_loop` or `too_many_redirects`."""

    code: str
    details: str


class Link(msgspec.Struct, frozen=True, gc=False):
    """An `<a href>` / `<area href>` as found on a page: resolved URL, its host (lower-case,
    IDNA A-label; empty when the URL has none), rel tokens in order, anchor text.
    Untracked by the garbage collector (it holds only strings): a big page has tens of
    thousands of links, and a collection walking all of them stalls the whole process."""

    url: str
    host: str
    rel: tuple[str, ...]
    anchor: str


class Inspection(msgspec.Struct):
    """Everything a fetch and a read of the final page established about one URL."""

    url: str
    final_url: str
    redirect_chain: list[Hop]
    http_status: int | None
    error: CheckError | None
    #: the final response was an HTML document and its body was read in full
    html: bool = False
    #: `<a>`/`<area>` links in document order (HTML pages only)
    links: list[Link] = []
    #: host-name tokens of the visible text and attribute values, A-label, lower-case
    mentions: frozenset[str] = frozenset()
    #: contents of `<meta name="robots">` / `<meta name="googlebot">`, in document order
    meta_robots: list[str] = []
    #: values of the final response's `X-Robots-Tag` headers, in order
    header_robots: list[str] = []
    #: `<link rel="canonical">`, resolved (HTML pages only)
    canonical_tag: str | None = None
    #: `Link: <…>; rel="canonical"` of the final response, resolved
    canonical_header: str | None = None


class CheckResult(msgspec.Struct, rename="camel"):
    """One row of a backlink check; field names and order are the seed's."""

    url: str
    final_url: str
    redirect_chain: list[Hop]
    http_status: int | None
    domain_found: bool
    has_link: bool
    link_type: str | None
    target_url: str | None
    anchor_text: str | None
    rel_attributes: list[str]
    canonical_url: str | None
    robots_directives: list[str]
    indexable: bool
    error: CheckError | None


class Summary(msgspec.Struct, rename="camel"):
    alive: int
    dead: int
    with_link: int
    dofollow: int
    indexable: int
    redirected: int


class CheckReport(msgspec.Struct):
    domain: str
    checked: int
    summary: Summary
    results: list[CheckResult]


def host_matches(host: str, domain: str) -> bool:
    """`host` is `domain` or one of its subdomains. Both are A-label forms; case and one
    trailing dot do not matter. `notexample.com` and `example.com.evil.net` do not match
    `example.com`."""
    host = host.lower().removesuffix(".")
    return host == domain or host.endswith("." + domain)


def alive(http_status: int | None, error: CheckError | None) -> bool:
    """API.md: alive ⇔ the final status is 2xx and nothing went wrong (a body cut short by
    the size or time limit is dead even after a 200)."""
    return http_status is not None and 200 <= http_status < 300 and error is None


def is_alive(inspection: Inspection) -> bool:
    return alive(inspection.http_status, inspection.error)


def is_followed(link: Link) -> bool:
    return not NOT_FOLLOWED.intersection(link.rel)


def choose_link(links: list[Link], domain: str) -> Link | None:
    """The first followed link to the domain, else the first link to it."""
    first: Link | None = None
    for link in links:
        if not host_matches(link.host, domain):
            continue
        if is_followed(link):
            return link
        first = first or link
    return first


def is_mentioned(mentions: frozenset[str], domain: str) -> bool:
    if domain in mentions:
        return True
    suffix = "." + domain
    return any(token.endswith(suffix) for token in mentions)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def comparable_url(url: str) -> str:
    """The form in which two URLs are "the same" for canonical purposes: scheme and host
    lower-cased, default port and fragment dropped; path and query as written."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").removesuffix(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def robots_directives(inspection: Inspection) -> list[str]:
    """Meta robots of an alive HTML page first, then `X-Robots-Tag` headers (API.md)."""
    directives: list[str] = []
    if is_alive(inspection) and inspection.html:
        for content in inspection.meta_robots:
            directives += robots.meta_directives(content)
    for value in inspection.header_robots:
        directives += robots.header_directives(value)
    return robots.unique(directives)


def judge(inspection: Inspection, domain: str, now: datetime) -> CheckResult:
    """The result of one URL for the (normalised) target `domain`."""
    is_up = is_alive(inspection)
    page = is_up and inspection.html  # links, mentions, canonical tag, meta robots
    directives = robots_directives(inspection)

    chosen = choose_link(inspection.links, domain) if page else None
    canonical = (inspection.canonical_tag if page else None) or inspection.canonical_header
    elsewhere = canonical is not None and comparable_url(canonical) != comparable_url(
        inspection.final_url
    )
    return CheckResult(
        url=inspection.url,
        final_url=inspection.final_url,
        redirect_chain=inspection.redirect_chain,
        http_status=inspection.http_status,
        domain_found=page and is_mentioned(inspection.mentions, domain),
        has_link=chosen is not None,
        link_type=link_type_of(chosen.rel, robots.is_nofollow(directives)) if chosen else None,
        target_url=chosen.url if chosen else None,
        anchor_text=chosen.anchor if chosen else None,
        rel_attributes=list(chosen.rel) if chosen else [],
        canonical_url=canonical,
        robots_directives=directives,
        indexable=is_up and not robots.is_noindex(directives, now) and not elsewhere,
        error=inspection.error,
    )


def summarise(domain: str, results: list[CheckResult]) -> CheckReport:
    alive_count = sum(alive(r.http_status, r.error) for r in results)
    return CheckReport(
        domain=domain,
        checked=len(results),
        summary=Summary(
            alive=alive_count,
            dead=len(results) - alive_count,
            with_link=sum(r.has_link for r in results),
            dofollow=sum(r.link_type == LinkType.DOFOLLOW for r in results),
            indexable=sum(r.indexable for r in results),
            redirected=sum(bool(r.redirect_chain) for r in results),
        ),
        results=results,
    )
