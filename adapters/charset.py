"""Decoding a page's bytes to text: BOM, then the Content-Type charset, then a meta
charset in the first 1024 bytes, else windows-1252 (API.md; the order browsers use)."""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:\-]+)""", re.I)
# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x">
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:\-]+)""",
    re.I,
)
META_PRESCAN = 1024

# WHATWG: these labels mean windows-1252 on the web, whatever the registry says.
_WEB_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252"}


def _codec(label: str | None, *, from_meta: bool = False) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    # a page cannot really be UTF-16 once we read an ASCII meta tag from it (WHATWG)
    if from_meta and name.startswith("utf-16"):
        return "utf-8"
    return _WEB_ALIASES.get(name, name)


def header_charset(content_type: str | None) -> str | None:
    m = _HEADER_CHARSET.search(content_type or "")
    return _codec(m.group(1)) if m else None


def sniff(body: bytes, content_type: str | None) -> tuple[str, int]:
    """The codec to decode `body` with and how many BOM bytes to skip."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    found = header_charset(content_type)
    if found:
        return found, 0
    m = _META_CHARSET.search(body[:META_PRESCAN])
    found = _codec(m.group(1).decode("ascii", "replace"), from_meta=True) if m else None
    return found or "cp1252", 0


def decode(body: bytes, content_type: str | None) -> str:
    name, skip = sniff(body, content_type)
    return body[skip:].decode(name, errors="replace")
