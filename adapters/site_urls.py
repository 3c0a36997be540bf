"""Site URL rules of API.md: an absolute https URL with a public DNS host name,
normalised; and the landing-page check through the SSRF-guarded fetcher."""

from __future__ import annotations

from yarl import URL

from adapters.hostnames import InvalidHost, is_public, to_ascii
from domain import robots
from domain.backlink_evidence import is_alive, robots_directives
from domain.ports import Clock, PageInspector
from domain.site import InvalidSiteUrl

LANDING_REDIRECTS = 5
HINT = "Use an indexable https URL with a public landing page."


def normalise_site_url(raw: str) -> tuple[str, str]:
    """(normalised URL, host) or raise `InvalidSiteUrl` saying what is wrong."""

    def bad(reason: str) -> InvalidSiteUrl:
        return InvalidSiteUrl(f"{reason} {HINT}", field="url")

    text = raw.strip()
    if len(text) > 2048:
        raise bad("The URL is longer than 2048 characters.")
    try:
        url = URL(text)
    except (ValueError, TypeError):
        raise bad("This is not a URL.") from None
    if not url.is_absolute() or not url.raw_host:
        raise bad("The URL must be absolute.")
    if url.scheme.lower() != "https":
        raise bad("The URL must use https://.")
    if url.raw_user is not None or url.raw_password is not None:
        raise bad("The URL must not contain a user name or password.")
    try:
        host = to_ascii(url.raw_host)
    except InvalidHost as exc:
        raise bad(f"The host is not usable: {exc}.") from None
    if not is_public(host):
        raise bad(f"{host} is not a public host name.")
    port = url.explicit_port
    netloc = host if port in (None, 443) else f"{host}:{port}"
    path = url.raw_path or "/"
    query = f"?{url.raw_query_string}" if url.raw_query_string else ""
    return f"https://{netloc}{path}{query}", host


class SiteUrlRules:
    """Implements `domain.ports.SiteUrlPolicy` with the shared SSRF-guarded fetcher."""

    def __init__(self, inspector: PageInspector, clock: Clock):
        self.inspector = inspector
        self.clock = clock

    def normalise(self, url: str) -> tuple[str, str]:
        return normalise_site_url(url)

    async def landing_page_problem(self, url: str) -> str | None:
        """Why the landing page is not acceptable (API.md: 2xx after at most 5 redirects,
        and not `noindex`), or None."""
        page = await self.inspector.inspect(url, max_redirects=LANDING_REDIRECTS)
        if page.error is not None:
            return (
                f"The landing page could not be fetched ({page.error.code}): {page.error.details}"
            )
        if not is_alive(page):
            return f"The landing page answered HTTP {page.http_status}; it must answer 2xx."
        if robots.is_noindex(robots_directives(page), self.clock.now()):
            return "The landing page asks search engines not to index it (noindex)."
        return None
