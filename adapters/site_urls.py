"""Site URL rules of API.md: an absolute https URL with a public DNS host name,
normalised; and the landing-page check through the SSRF-guarded fetcher."""

from __future__ import annotations

from yarl import URL

from adapters.hostnames import InvalidHost, is_public, to_ascii
from domain.site import InvalidSiteUrl

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
