"""Robots directives: what `<meta name="robots|googlebot">` and `X-Robots-Tag` say, and
what that means for indexing and following (API.md, "Backlink check")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: the bot whose view we report: Google's, like every SEO tool
OUR_BOT = "googlebot"

#: directives that take a value after a colon; a "name:" that is not one of them is a
#: user-agent scope in an X-Robots-Tag header ("googlebot: noindex")
VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})

#: a robots value is read this far (the adapters hand over at most 1,000 characters)
MAX_VALUE = 8192

_SCOPE = re.compile(r"^\s*([a-z0-9_.\-]+)\s*:\s*(.*)$", re.S)


def _pieces(value: str) -> list[str]:
    """Split on commas, re-joining the commas that belong to an `unavailable_after` date
    ("unavailable_after: Friday, 25-Jun-2010 15:00:00 PST"). One pass: the parts of a
    directive are gathered and joined once (joining as we go would be quadratic)."""
    out: list[list[str]] = []
    for raw in value[:MAX_VALUE].split(","):
        piece = " ".join(raw.split()).lower()
        if not piece:
            continue
        if (
            out
            and _unscoped(out[-1][0]).startswith("unavailable_after")
            and not (_starts_directive(piece))
        ):
            out[-1].append(piece)
        else:
            out.append([piece])
    return [", ".join(parts) for parts in out]


_KNOWN = frozenset(
    {
        "all", "index", "noindex", "follow", "nofollow", "none", "noarchive", "nocache",
        "nosnippet", "notranslate", "noimageindex", "indexifembedded", "noodp", "noydir",
        *VALUED,
    }
)  # fmt: skip


def _unscoped(piece: str) -> str:
    """The directive of a piece, without its user-agent scope ("googlebot: noindex")."""
    m = _SCOPE.match(piece)
    return m.group(2) if m and m.group(1) not in VALUED else piece


def _starts_directive(piece: str) -> bool:
    m = _SCOPE.match(piece)
    word = m.group(1) if m else piece.split(" ", 1)[0]
    return word in _KNOWN or bool(m and m.group(1) not in VALUED)


def _normal(piece: str) -> str:
    """`unavailable_after : X` → `unavailable_after: X` so equal directives compare equal."""
    m = _SCOPE.match(piece)
    if m and m.group(1) in VALUED:
        return f"{m.group(1)}: {m.group(2).strip()}"
    return piece


def meta_directives(content: str) -> list[str]:
    """The directives of one robots/googlebot meta tag, lower-case, in order."""
    return [_normal(p) for p in _pieces(content)]


def header_directives(value: str) -> list[str]:
    """The directives of one X-Robots-Tag header value that apply to us: unscoped ones and
    those scoped to googlebot. A scope lasts until the next one ("googlebot: noindex,
    nofollow, otherbot: noarchive")."""
    found: list[str] = []
    scope: str | None = None
    for piece in _pieces(value):
        m = _SCOPE.match(piece)
        if m and m.group(1) not in VALUED:
            scope, piece = m.group(1), m.group(2).strip()
            if not piece:
                continue
        if scope is None or scope == OUR_BOT:
            found.append(_normal(piece))
    return found


def unique(directives: list[str]) -> list[str]:
    return list(dict.fromkeys(d for d in directives if d))


def _unavailable_after(directive: str) -> datetime | None:
    """The date of an `unavailable_after` directive (RFC 822/850 or ISO 8601), None if
    it cannot be read — an unreadable date is no reason to call a page unindexable."""
    text = directive.partition(":")[2].strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.upper().replace(" ", "T", 1))
    except ValueError:
        # RFC 850 writes "25-Jun-2010"; parsedate wants spaces
        try:
            when = parsedate_to_datetime(re.sub(r"(\d)-(\w{3})-(\d)", r"\1 \2 \3", text))
        except (TypeError, ValueError, IndexError):
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def is_noindex(directives: list[str], now: datetime) -> bool:
    for d in directives:
        if d in ("noindex", "none"):
            return True
        if d.startswith("unavailable_after"):
            when = _unavailable_after(d)
            if when is not None and when <= now:
                return True
    return False


def is_nofollow(directives: list[str]) -> bool:
    return any(d in ("nofollow", "none") for d in directives)
