"""Reading an HTML page with lxml: links, base, rel, anchors, robots meta, canonical,
meta refresh and host-name mentions; and the two HTTP headers that carry page facts
(`Link` canonical, `Refresh`). What the facts *mean* is decided in
`domain.backlink_evidence`; this module only reads them faithfully."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import msgspec
from lxml import etree

from adapters import charset, untrusted
from adapters.hostnames import to_ascii_or_none
from domain.backlink_evidence import Link

# ASCII whitespace and the tab/newline that URL parsers strip from inside a URL
_URL_STRIP = " \t\n\r\f"
_URL_INNER = re.compile(r"[\t\n\r]")
# what the URL parser strips from both ends of its input
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_NOT_LINKS = ("javascript:", "mailto:")
_REL_SPLIT = re.compile(r"[\s,]+")
# API.md: a token is a maximal run of letters, digits, "-" and "." — only those with a dot
# matter. This finds the runs of word characters, "-" and "." that hold a dot, starting
# only where a run starts and never backtracking (linear); "_" is split off afterwards.
_DOTTED_RUN = re.compile(r"(?<![\w.\-])(?=[\w\-]*+\.)[\w.\-]++")
_NOT_TOKEN = re.compile(r"[^\w.\-]")
_SEARCH_PIECE = 64 * 1024
# two queries rather than one union, which lxml would have to sort into document order
# "/descendant::", not "//": libxml2 applies a predicate after "//" once per node of the
# document and merges the results, which is quadratic (9 s instead of 0.3 s at 5 MB)
_VISIBLE_TEXT = etree.XPath(
    "/descendant::text()[not(parent::script or parent::style)]", smart_strings=False
)
_ATTRIBUTE_VALUES = etree.XPath("//@*", smart_strings=False)
#: how much of a link's text is read for its anchor text (which keeps `MAX_TEXT` of it)
_ANCHOR_READ = 4 * untrusted.MAX_TEXT
_ANCHOR_NODES = 200
#: a non-ASCII token longer than this is no host name (a host name has ≤ 253 octets)
_MAX_HOST_TOKEN = 1024
# scheme://authority of an absolute URL, for the fast path of link hosts
_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_AUTHORITY = re.compile(r"^[hH][tT][tT][pP][sS]?://([^/?#\\]*)")


class HtmlFacts(msgspec.Struct, gc=False):
    links: list[Link]
    mentions: frozenset[str]
    meta_robots: list[str]
    canonical: str | None


_LINKS = msgspec.msgpack.Decoder(list[Link])


def parse(text: str) -> etree._Element | None:
    """Parse like a forgiving browser would; None for a document with no elements.
    lxml refuses `str` input that declares an encoding, so we hand it UTF-8 bytes."""
    parser = etree.HTMLParser(encoding="utf-8", recover=True, no_network=True, huge_tree=True)
    try:
        return etree.fromstring(text.encode("utf-8", "surrogatepass"), parser)
    except etree.XMLSyntaxError:
        return None


def clean_href(href: str) -> str:
    return _URL_INNER.sub("", href.strip(_URL_STRIP))


def resolve(href: str, base: str) -> str | None:
    """`href` resolved against `base`; None when it cannot be a URL at all."""
    try:
        return urljoin(base, clean_href(untrusted.capped(href)))
    except ValueError:
        return None


def url_host(url: str) -> str:
    """The URL's host, lower-case, in A-label form; "" when it has none (or a bad one)."""
    m = _AUTHORITY.match(url)
    if m:  # the common case, without urlsplit's generality (a page can have 10,000 links)
        host = m.group(1).rpartition("@")[2]
        host = host[1 : host.find("]")] if host.startswith("[") else host.partition(":")[0]
        host = host.lower()
    else:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return ""
    if host.isascii():
        return host
    return to_ascii_or_none(host) or ""


def _collapse(text: str) -> str:
    return " ".join(text.split())


def rel_tokens(value: str | None) -> tuple[str, ...]:
    """Lower-case tokens in order of first appearance, from the first `MAX_TEXT`
    characters of the value, each cleaned (they may become a backlink's evidence)."""
    if not value:
        return ()
    value = untrusted.text(value[: untrusted.MAX_TEXT]).lower()
    return tuple(dict.fromkeys(t for t in _REL_SPLIT.split(value) if t))


def _text_head(element: etree._Element) -> str:
    """The element's text (as `itertext` gives it), read only as far as an anchor text
    can use: `_ANCHOR_READ` characters or `_ANCHOR_NODES` nodes. Links can nest (an `<a>`
    in a `<div>` in an `<a>`), so reading each one's whole subtree could be quadratic."""
    if len(element) == 0:  # the common case: text only
        return (element.text or "")[:_ANCHOR_READ]
    pieces: list[str] = []
    size = 0
    walk = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
    for count, (event, node) in enumerate(walk):
        if count == 2 * _ANCHOR_NODES or size > _ANCHOR_READ:
            break
        if event == "start":
            piece = node.text
        elif node is element:
            piece = None
        else:  # the end of an element, or a comment / processing instruction
            piece = node.tail
        if piece:
            pieces.append(piece)
            size += len(piece)
    return "".join(pieces)[:_ANCHOR_READ]


def _anchor(element: etree._Element) -> str:
    if element.tag == "area":
        return untrusted.text(_collapse(untrusted.capped(element.get("alt"))))
    text = _collapse(_text_head(element))
    if text:
        return untrusted.text(text)
    for img in element.iter("img"):
        alt = _collapse(untrusted.capped(img.get("alt")))
        if alt:
            return untrusted.text(alt)
    return ""


def base_url(root: etree._Element, page_url: str) -> str:
    """The document's base URL: the first `<base href>`, resolved against the page URL."""
    for base in root.iter("base"):
        href = base.get("href")
        if href is not None:
            return resolve(href, page_url) or page_url
    return page_url


def links(root: etree._Element, base: str) -> list[Link]:
    found: list[Link] = []
    for element in root.iter("a", "area"):
        href = element.get("href")
        if href is None:
            continue
        cleaned = clean_href(untrusted.capped(href))
        if cleaned.lower().startswith(_NOT_LINKS):
            continue
        # API.md: "resolved against <base href>/finalUrl, otherwise as written" — an
        # absolute URL is kept as written (and costs no urljoin)
        url = cleaned if _ABSOLUTE.match(cleaned) else resolve(cleaned, base)
        if url is None:
            continue
        found.append(
            Link(
                url=untrusted.url(url),
                host=url_host(url),
                rel=rel_tokens(element.get("rel")),
                anchor=_anchor(element),
            )
        )
    return found


def _searchable(strings: list[str]) -> Iterator[str]:
    """The strings, newline-joined, in pieces of about `_SEARCH_PIECE` characters cut
    between tokens. A regex holds the GIL for its whole search: a page's text searched at
    once would stop every other thread, the event loop's too, for as long."""
    batch: list[str] = []
    length = 0
    for string in strings:
        start = 0
        while len(string) - start > _SEARCH_PIECE:  # one huge text node
            cut = _NOT_TOKEN.search(string, start + _SEARCH_PIECE)
            if cut is None:
                break
            yield string[start : cut.start()]
            start = cut.start()
        batch.append(string[start:] if start else string)
        length += len(string) - start
        if length >= _SEARCH_PIECE:
            yield "\n".join(batch)
            batch, length = [], 0
    if batch:
        yield "\n".join(batch)


def mentions(root: etree._Element) -> frozenset[str]:
    """Host-name tokens (with a dot) of the visible text and every attribute value;
    comments, `<script>` and `<style>` are not read."""
    runs: set[str] = set()
    for text in _searchable(_VISIBLE_TEXT(root) + _ATTRIBUTE_VALUES(root)):
        runs.update(_DOTTED_RUN.findall(text))
    tokens: set[str] = set()
    # distinct runs first: pages repeat words, and only the distinct ones need looking at
    for raw in {piece for run in runs for piece in run.split("_")}:
        token = raw.rstrip(".")
        if "." not in token:
            continue
        if token.isascii():
            tokens.add(token.lower())
        elif len(token) <= _MAX_HOST_TOKEN:  # longer is no host name, and IDNA is costly
            ascii_token = to_ascii_or_none(token)
            if ascii_token:
                tokens.add(ascii_token)
    return frozenset(tokens)


def meta_contents(root: etree._Element, names: tuple[str, ...]) -> list[str]:
    """The contents of the first `MAX_VALUES` such metas, as cleaned texts."""
    found: list[str] = []
    for meta in root.iter("meta"):
        if untrusted.capped(meta.get("name"), 64).strip().lower() in names:
            found.append(untrusted.text(meta.get("content") or ""))
            if len(found) == untrusted.MAX_VALUES:
                break
    return found


def canonical(root: etree._Element, base: str) -> str | None:
    for link in root.iter("link"):
        href = link.get("href")
        if href and "canonical" in rel_tokens(link.get("rel")):
            return untrusted.optional_url(resolve(href, base))
    return None


#: links per piece of a packed analysis: each piece is decoded in one step of the loop
PACKED_LINKS = 500


def analyse_body(body: bytes, content_type: str | None, page_url: str) -> list[bytes]:
    """`analyse_html` of a body not yet decoded, packed by `pack_facts`."""
    return pack_facts(analyse_html(charset.decode(body, content_type), page_url))


def pack_facts(facts: HtmlFacts) -> list[bytes]:
    """The facts msgpack-encoded in pieces — without their links, then the links
    `PACKED_LINKS` at a time: what a worker process sends back, for `read_facts` to decode
    a piece at a time."""
    links = facts.links
    encode = msgspec.msgpack.encode
    pieces = range(0, len(links), PACKED_LINKS)
    head = encode(msgspec.structs.replace(facts, links=[]))
    return [head, *(encode(links[i : i + PACKED_LINKS]) for i in pieces)]


async def read_facts(packed: list[bytes]) -> HtmlFacts:
    """The facts `analyse_body` packed; the event loop runs other work between pieces
    (tens of thousands of links decoded at once would hold it for too long)."""
    facts = msgspec.msgpack.decode(packed[0], type=HtmlFacts)
    for piece in packed[1:]:
        await asyncio.sleep(0)
        facts.links += _LINKS.decode(piece)
    return facts


def analyse_html(text: str, page_url: str) -> HtmlFacts:
    root = parse(text)
    if root is None:
        return HtmlFacts(links=[], mentions=frozenset(), meta_robots=[], canonical=None)
    base = base_url(root, page_url)
    return HtmlFacts(
        links=links(root, base),
        mentions=mentions(root),
        meta_robots=meta_contents(root, ("robots", "googlebot")),
        canonical=canonical(root, base),
    )


# --- refresh (header and meta) -------------------------------------------------------------

_ASCII_WS = " \t\n\f\r"
_DIGITS = "0123456789"
#: a delay this long is "never" for every caller (they follow at most a few seconds)
_MAX_DELAY_DIGITS = 9


def _skip(value: str, pos: int, chars: str) -> int:
    while pos < len(value) and value[pos] in chars:
        pos += 1
    return pos


def parse_refresh(value: str) -> tuple[int, str | None] | None:
    """`"5; url=/next"` → (5, "/next"); a value without a URL gives (delay, None); a value
    that is not a refresh at all gives None. HTML's "shared declarative refresh steps",
    step by step (one pass, no backtracking), on the first `MAX_VALUE` characters. The URL
    is returned as the URL parser would read it: outer spaces and controls stripped, tabs
    and newlines removed."""
    value = untrusted.capped(value)
    if not value:
        return None
    pos = _skip(value, 0, _ASCII_WS)
    start = pos
    pos = _skip(value, pos, _DIGITS)
    digits = value[start:pos]
    if not digits and (pos >= len(value) or value[pos] != "."):
        return None
    significant = digits.lstrip("0")  # int() of a long digit string is slow (and refused)
    delay = (
        10**_MAX_DELAY_DIGITS if len(significant) > _MAX_DELAY_DIGITS else int(significant or "0")
    )
    pos = _skip(value, pos, _DIGITS + ".")
    if pos < len(value):
        if value[pos] not in ";," + _ASCII_WS:
            return None
        pos = _skip(value, pos, _ASCII_WS)
        if pos < len(value) and value[pos] in ";,":
            pos += 1
        pos = _skip(value, pos, _ASCII_WS)
    if pos >= len(value):
        return delay, None
    url_string = _refresh_url(value, pos)
    url = _URL_INNER.sub("", url_string.strip(_C0_OR_SPACE))
    return delay, url or None


def _refresh_url(value: str, pos: int) -> str:
    """Steps 11.1–11.10: an optional `url =`, then an optional quoted URL."""
    url_string = value[pos:]
    for letters in ("uU", "rR", "lL"):
        if pos < len(value) and value[pos] in letters:
            pos += 1
        elif letters == "uU":  # not even a "u": the quotes may still open here
            return _unquote(value, pos)
        else:
            return url_string
    pos = _skip(value, pos, _ASCII_WS)
    if pos >= len(value) or value[pos] != "=":
        return url_string
    return _unquote(value, _skip(value, pos + 1, _ASCII_WS))


def _unquote(value: str, pos: int) -> str:
    if pos < len(value) and value[pos] in "'\"":
        quote = value[pos]
        rest = value[pos + 1 :]
        end = rest.find(quote)
        return rest if end < 0 else rest[:end]
    return value[pos:]


# possessive: the spaces are taken once (the old pattern retook them one by one, which
# was quadratic in a run of spaces after "http-equiv=")
_HAS_META_REFRESH = re.compile(r"http-equiv\s*+=\s*+[\"']?\s*+refresh")


def body_meta_refresh(body: bytes, content_type: str | None) -> str | None:
    """`meta_refresh` of a body not yet decoded (for `adapters.parsing_pool`)."""
    return meta_refresh(charset.decode(body, content_type))


_HINT = b"http-equiv"
_HINT_TRIES = 16
# what may come between `http-equiv` and its value; possessive, so linear
_HINT_GAP = re.compile(rb"[\s=\"']*+")


def may_have_meta_refresh(body: bytes, start: int, end: int) -> bool:
    """Might a `<meta http-equiv="refresh">` start in `body[start:end]`? A quick look at
    the raw bytes (ASCII case-insensitive, so for ASCII-compatible encodings), allowed to
    answer yes wrongly, never no wrongly: a yes costs a parse, a no saves it."""
    window = body[start : end + len(_HINT) - 1].lower()
    pos = window.find(_HINT)
    tries = 0
    while pos >= 0:
        tries += 1
        value = _HINT_GAP.match(body, start + pos + len(_HINT)).end()
        # "&": the value may spell "refresh" with character references
        if tries > _HINT_TRIES or body[value : value + 7].lower() == b"refresh":
            return True
        if body[value : value + 1] == b"&":
            return True
        pos = window.find(_HINT, pos + 1)
    return False


def meta_refresh(text: str) -> str | None:
    """The content of the first `<meta http-equiv="refresh">`, if the page has one."""
    if not _HAS_META_REFRESH.search(text.lower()):  # the common case costs one scan
        return None
    root = parse(text)
    if root is None:
        return None
    for meta in root.iter("meta"):
        if untrusted.capped(meta.get("http-equiv"), 64).strip().lower() == "refresh":
            return untrusted.capped(meta.get("content"))
    return None


# --- HTTP Link header ---------------------------------------------------------------------

#: how much of a response's Link headers is read, all values together
MAX_LINK_CHARS = 2 * untrusted.MAX_VALUE
# one `; name[=value]` of a link-value (RFC 8288). The alternatives never overlap, so a
# match never backtracks; each match moves the position on.
_LINK_PARAM = re.compile(
    r"""[ \t]*;[ \t]*(?P<name>[^=;,\s]*)[ \t]*
        (?:=[ \t]*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"?|(?P<token>[^;,]*)))?""",
    re.X | re.S,
)
_ESCAPE = re.compile(r"\\(.)", re.S)


def link_values(value: str) -> list[tuple[str, str | None]]:
    """(target, rel) of each link-value of one `Link` header, in order; one forward pass
    over the first `MAX_VALUE` characters."""
    value = untrusted.capped(value)
    found: list[tuple[str, str | None]] = []
    pos = 0
    while (start := value.find("<", pos)) >= 0:
        end = value.find(">", start + 1)
        if end < 0:
            break
        # a URI reference holds no "<": the target opens at the last one ("<<<</a>" is
        # "/a"); the segments searched never overlap, so this stays linear
        start = value.rfind("<", start, end)
        target, rel, pos = value[start + 1 : end], None, end + 1
        while m := _LINK_PARAM.match(value, pos):
            pos = m.end()
            if rel is None and m.group("name").lower() == "rel":
                quoted = m.group("quoted")
                rel = _ESCAPE.sub(r"\1", quoted) if quoted is not None else m.group("token")
        found.append((target, rel))
    return found


def header_canonical(values: list[str], page_url: str) -> str | None:
    """The first `Link: <…>; rel="canonical"` target, resolved against the page URL."""
    budget = MAX_LINK_CHARS
    for value in values:
        if budget <= 0:
            break
        for target, rel in link_values(value[:budget]):
            if "canonical" in rel_tokens(rel):
                return untrusted.optional_url(resolve(target, page_url))
        budget -= len(value)
    return None
