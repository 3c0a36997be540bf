"""The target domain of a backlink check, normalised as API.md says: host taken from a
URL, lower-case, IDNA A-label, trailing dot and a leading `www.` removed, and a host name
under a public suffix."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from domain.errors import InvalidDomain
from domain.ports import HostNames

_ADVICE = "Give a host name such as example.com (or a URL on it)."


def normalise_domain(raw: str, names: HostNames) -> str:
    text = raw.strip()
    try:
        # "//" makes urlsplit read a bare "example.com:8080/path" as a network location
        host = urlsplit(text if "://" in text else "//" + text).hostname
    except ValueError:
        host = None
    if not host:
        raise InvalidDomain(f"{raw!r} is not a host name. {_ADVICE}", field="domain")
    host = host.removesuffix(".")
    if _is_ip(host):
        raise InvalidDomain(f"{host} is an IP address. {_ADVICE}", field="domain")
    ascii_host = names.to_ascii(host)
    if not ascii_host:
        raise InvalidDomain(f"{host!r} is not a valid host name. {_ADVICE}", field="domain")
    ascii_host = ascii_host.removeprefix("www.")
    if not names.is_under_public_suffix(ascii_host):
        raise InvalidDomain(
            f"{ascii_host} is not a host name under a public suffix. {_ADVICE}", field="domain"
        )
    return ascii_host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
