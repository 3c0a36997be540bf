"""Host names: IDNA (the `idna` package, UTS #46 mapping) and the public suffix list
(`tldextract`'s bundled snapshot, read offline — a request must never wait on, or leak
to, a network fetch of the list)."""

from __future__ import annotations

import functools
import re

import idna
import tldextract

_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_MAX_HOST = 253


@functools.lru_cache(maxsize=4096)
def to_ascii(host: str) -> str | None:
    """`host` in lower-case A-label form, or None if it is not a valid host name.
    ASCII names are checked as letters-digits-hyphen labels (IDNA would also refuse the
    underscores some real hosts use, so those are accepted as they are)."""
    host = host.strip().lower().removesuffix(".")
    if not host:
        return None
    if host.isascii():
        labels = host.split(".")
        if all(_LDH_LABEL.match(label.replace("_", "a")) for label in labels):
            result = host
        else:
            return None
    else:
        try:
            result = idna.encode(host, uts46=True).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    return result if len(result) <= _MAX_HOST else None


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # suffix_list_urls=() and no cache directory: only the snapshot shipped in the wheel
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class IdnaHostNames:
    """`domain.ports.HostNames` over idna + tldextract."""

    def to_ascii(self, host: str) -> str | None:
        return to_ascii(host)

    def is_under_public_suffix(self, host: str) -> bool:
        parts = _extractor()(host)
        return bool(parts.suffix and parts.domain)
