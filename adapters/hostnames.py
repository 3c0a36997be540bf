"""Host names: IDNA normalisation and the public suffix test, with well-kept libraries
(`idna` for UTS #46 + IDNA 2008, `tldextract` with its bundled Public Suffix List snapshot —
never fetched at run time, so behaviour does not depend on the network)."""

from __future__ import annotations

import functools
import ipaddress

import idna
import tldextract

_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class InvalidHost(ValueError):
    pass


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def to_ascii(host: str) -> str:
    """Lower-case IDNA A-label form, trailing dot removed. Raises `InvalidHost`."""
    host = host.strip().rstrip(".")
    if not host:
        raise InvalidHost("empty host name")
    if is_ip_literal(host):
        raise InvalidHost(f"{host} is an IP address, not a host name")
    try:
        return idna.encode(host, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise InvalidHost(f"{host!r} is not a valid host name ({exc})") from None


@functools.lru_cache(maxsize=4096)
def is_public(host: str) -> bool:
    """True when `host` (A-label) is a registrable domain, or under one, of a public
    suffix: `example.co.uk` and `www.example.com` yes; `localhost`, `co.uk`, `foo.local` no."""
    parts = _extract(host)
    return bool(parts.suffix and parts.domain)


def to_ascii_or_none(host: str) -> str | None:
    try:
        return to_ascii(host)
    except InvalidHost:
        return None


class HostNameRules:
    """`domain.ports.HostNames` over this module."""

    def to_ascii(self, host: str) -> str | None:
        return to_ascii_or_none(host)

    def is_under_public_suffix(self, host: str) -> bool:
        return is_public(host)
