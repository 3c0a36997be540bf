"""Strings that strangers wrote: fetched pages, their headers, directories' answers.

Two rules, applied at the edge of the adapters:
* before parsing, a value is cut to `MAX_VALUE` characters (`capped`), so every parser's
  work is bounded whatever the page sends;
* before a value leaves an adapter (and may become an event, a read-model row, an API
  answer), it is cleaned: no NUL or other control character (PostgreSQL refuses NUL in
  text, JSON and CSV readers choke on the rest), no lone surrogate (it cannot be encoded),
  and a length cap — `MAX_URL` for URLs, `MAX_TEXT` for texts.
"""

from __future__ import annotations

import re

#: a header value, meta content or attribute is read up to this many characters
MAX_VALUE = 8192
#: how long a URL or a text from a stranger may be once cleaned
MAX_URL = 2048
MAX_TEXT = 1000
#: how many values of one kind (robots metas, X-Robots-Tag headers, Link headers) count
MAX_VALUES = 32

# C0 controls, DEL, C1 controls and lone surrogates; one character class, so linear
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACE_LIKE = re.compile("[\t\n\v\f\r\x85]+")


def capped(value: str | None, limit: int = MAX_VALUE) -> str:
    """`value` cut to `limit` characters ("" for None): what a parser may look at."""
    return (value or "")[:limit]


def text(value: str, limit: int = MAX_TEXT) -> str:
    """A stranger's text made safe to store: line breaks and tabs become spaces, other
    control characters and lone surrogates go, at most `limit` characters."""
    # looking at a bounded prefix keeps the work bounded; removals only shorten it
    head = value[: limit * 4]
    if head.isprintable() and len(head) <= limit:  # the common case costs one scan
        return head
    return _CONTROL.sub("", _SPACE_LIKE.sub(" ", head))[:limit]


def url(value: str, limit: int = MAX_URL) -> str:
    """A stranger's URL made safe to store: control characters (tab and newline too, which
    a URL parser drops anyway) and lone surrogates removed, at most `limit` characters."""
    head = value[: limit * 4]
    if head.isprintable() and len(head) <= limit:
        return head
    return _CONTROL.sub("", head)[:limit]


def optional_url(value: str | None) -> str | None:
    return None if value is None else url(value)


def optional_text(value: str | None) -> str | None:
    return None if value is None else text(value)
