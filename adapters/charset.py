"""Decoding a page's bytes to text as browsers do (API.md; WHATWG HTML "determining the
character encoding"): a BOM, then the Content-Type charset, then the prescan of the first
1024 bytes, else windows-1252.

The prescan is the standard's "prescan a byte stream to determine its encoding" algorithm,
step by step: one forward pass over at most 1024 bytes, so hostile pages cannot make it
slow. Labels are resolved with the WHATWG label table (`webencodings`), so `latin1`,
`ascii` and `iso-8859-1` mean windows-1252 and unknown labels mean nothing, as in browsers.
"""

from __future__ import annotations

import codecs
import re

import webencodings
from webencodings import Encoding

from adapters import untrusted

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
)

_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([^\s"';,]+)""", re.I)
META_PRESCAN = 1024
#: a `<meta>` charset further in still counts, as when a browser's parser meets it and
#: changes the encoding (WHATWG "change the encoding"); read as far as this, no further
LATE_META = 64 * 1024
WINDOWS_1252 = webencodings.lookup("windows-1252")
UTF_8 = webencodings.lookup("utf-8")

_SPACE = b"\t\n\x0c\r "
_SPACE_OR_SLASH = _SPACE + b"/"


def lookup(label: str | bytes | None) -> Encoding | None:
    """The encoding a label names on the web (WHATWG "get an encoding"), else None."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    return webencodings.lookup(label[:64])


def header_charset(content_type: str | None) -> Encoding | None:
    m = _HEADER_CHARSET.search(untrusted.capped(content_type))
    return lookup(m.group(1)) if m else None


def sniff(body: bytes, content_type: str | None) -> tuple[Encoding, int]:
    """The encoding to decode `body` with and how many BOM bytes to skip."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return webencodings.lookup(name), len(bom)
    return (
        header_charset(content_type)
        or prescan(body[:META_PRESCAN])
        or prescan(body[:LATE_META], xml=False)
        or WINDOWS_1252
    ), 0


def decode(body: bytes, content_type: str | None) -> str:
    encoding, skip = sniff(body, content_type)
    data = body[skip:]
    if encoding.name == "replacement":  # labels of encodings that are never decoded
        return "\ufffd" if data else ""
    return encoding.codec_info.decode(data, "replace")[0]


# --- the prescan ---------------------------------------------------------------------------


class _Exhausted(Exception):
    """The bytes ended in the middle of a construct: the prescan has no answer."""


class _Bytes:
    """The prescan's input and its position pointer."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def at(self, pos: int | None = None) -> int:
        i = self.pos if pos is None else pos
        if i >= len(self.data):
            raise _Exhausted
        return self.data[i]

    def startswith(self, prefix: bytes) -> bool:
        return self.data[self.pos : self.pos + len(prefix)].lower() == prefix

    def skip_to(self, needle: bytes, start: int) -> None:
        """Position on the first `needle` at or after `start`, else run out."""
        found = self.data.find(needle, start)
        if found < 0:
            raise _Exhausted
        self.pos = found

    def skip_to_any(self, stops: bytes) -> None:
        while self.at() not in stops:
            self.pos += 1

    def skip_space(self, chars: bytes = _SPACE) -> None:
        while self.at() in chars:
            self.pos += 1


def prescan(data: bytes, *, xml: bool = True) -> Encoding | None:
    """WHATWG "prescan a byte stream to determine its encoding" over `data` (1024 bytes
    for the prescan proper; more to find a late `<meta>`, without the XML rules)."""
    if xml and data.startswith((b"<\x00?\x00", b"\x00<\x00?")):  # a UTF-16 XML declaration
        return webencodings.lookup("utf-16le" if data[0] else "utf-16be")
    s = _Bytes(data)
    try:
        while s.pos < len(data):
            if s.startswith(b"<!--"):
                # the first ">" preceded by "--", the dashes may be those of "<!--"
                s.skip_to(b"-->", s.pos + 2)
                s.pos += 2
            elif s.startswith(b"<meta") and s.at(s.pos + 5) in _SPACE_OR_SLASH:
                s.pos += 5
                found = _meta(s)
                if found is not None:
                    return found
            elif s.at() == 0x3C and _is_tag_start(s):
                s.pos += 2 if s.at(s.pos + 1) == 0x2F else 1
                s.skip_to_any(_SPACE + b">")
                while _attribute(s) is not None:
                    pass
            elif s.startswith(b"<!") or s.startswith(b"</") or s.startswith(b"<?"):
                s.skip_to(b">", s.pos + 1)
            elif s.at() != 0x3C:  # "any other byte: do nothing", done in one step
                s.pos = data.find(b"<", s.pos)
                if s.pos < 0:
                    break
                continue
            s.pos += 1
    except _Exhausted:
        pass
    return xml_encoding(data) if xml else None


def _is_tag_start(s: _Bytes) -> bool:
    """`<` then an ASCII letter, or `</` then an ASCII letter."""
    i = s.pos + 1
    if i < len(s.data) and s.data[i] == 0x2F:
        i += 1
    return i < len(s.data) and (0x41 <= s.data[i] <= 0x5A or 0x61 <= s.data[i] <= 0x7A)


def _meta(s: _Bytes) -> Encoding | None:
    """The attributes of one `<meta>`: its charset when the rules about `http-equiv`,
    `content` and `charset` make it count."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    found: Encoding | None = None
    while (attr := _attribute(s)) is not None:
        name, value = attr
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv":
            got_pragma = got_pragma or value == b"content-type"
        elif name == b"content":
            from_content = content_charset(value)
            if from_content is not None and found is None:
                found, need_pragma = from_content, True
        elif name == b"charset":
            found, need_pragma = lookup(value), False
    if need_pragma is None or (need_pragma and not got_pragma) or found is None:
        return None
    if found.name in ("utf-16be", "utf-16le"):
        return UTF_8  # a page whose ASCII bytes we just read is not UTF-16
    if found.name == "x-user-defined":
        return WINDOWS_1252
    return found


def _attribute(s: _Bytes) -> tuple[bytes, bytes] | None:
    """WHATWG "get an attribute": (name, value), lower-cased, or None at the tag's end."""
    s.skip_space(_SPACE_OR_SLASH)
    if s.at() == 0x3E:
        return None
    name = bytearray()
    value = bytearray()
    while True:  # the name
        c = s.at()
        if c == 0x3D and name:
            s.pos += 1
            break
        if c in _SPACE:
            s.skip_space()
            if s.at() != 0x3D:
                return bytes(name), b""
            s.pos += 1
            break
        if c in b"/>":
            return bytes(name), b""
        name.append(c | 0x20 if 0x41 <= c <= 0x5A else c)
        s.pos += 1
    s.skip_space()
    c = s.at()
    if c in b"\"'":
        quote = c
        s.pos += 1
        end = s.data.find(bytes([quote]), s.pos)
        if end < 0:
            raise _Exhausted
        value += s.data[s.pos : end].lower()
        s.pos = end + 1
        return bytes(name), bytes(value)
    if c == 0x3E:
        return bytes(name), b""
    while True:  # an unquoted value runs to a space or ">"
        c = s.at()
        if c in _SPACE or c == 0x3E:
            return bytes(name), bytes(value)
        value.append(c | 0x20 if 0x41 <= c <= 0x5A else c)
        s.pos += 1


def content_charset(content: bytes) -> Encoding | None:
    """WHATWG "extracting a character encoding from a meta element" from a `content`
    value (already lower-cased by the prescan)."""
    pos = 0
    while True:
        pos = content.find(b"charset", pos)
        if pos < 0:
            return None
        pos += 7
        while pos < len(content) and content[pos] in _SPACE:
            pos += 1
        if pos < len(content) and content[pos] == 0x3D:
            break
    pos += 1
    while pos < len(content) and content[pos] in _SPACE:
        pos += 1
    if pos >= len(content):
        return None
    c = content[pos]
    if c in b"\"'":
        end = content.find(bytes([c]), pos + 1)
        return lookup(content[pos + 1 : end]) if end >= 0 else None
    end = pos
    while end < len(content) and content[end] not in _SPACE and content[end] != 0x3B:
        end += 1
    return lookup(content[pos:end])


def xml_encoding(data: bytes) -> Encoding | None:
    """WHATWG "get an XML encoding": the `encoding` of a leading `<?xml …?>`."""
    if not data.startswith(b"<?xml"):
        return None
    end = data.find(b">")
    pos = data.find(b"encoding", 0, end)
    if end < 0 or pos < 0:
        return None
    pos += 8
    while pos < len(data) and data[pos] <= 0x20:
        pos += 1
    if pos >= len(data) or data[pos] != 0x3D:
        return None
    pos += 1
    while pos < len(data) and data[pos] <= 0x20:
        pos += 1
    if pos >= len(data) or data[pos] not in b"\"'":
        return None
    close = data.find(data[pos : pos + 1], pos + 1)
    if close < 0:
        return None
    label = data[pos + 1 : close]
    if any(b <= 0x20 for b in label):
        return None
    found = lookup(label)
    return UTF_8 if found is not None and found.name in ("utf-16be", "utf-16le") else found
