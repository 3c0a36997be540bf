"""Generated inputs for every parser of third-party input (hypothesis): arbitrary values
never make one raise or let a control character through, round trips hold, and a family
of repetitive values up to a megabyte (the shape every quadratic parser fears: one piece
repeated, between a prefix and a suffix) is answered within the timeout mark."""

from __future__ import annotations

import msgspec
import pytest
import webencodings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import charset, forms, untrusted
from adapters.page_analysis import analyse_html, header_canonical, link_values, parse_refresh
from adapters.submitters import JsonAnswer
from domain import robots

PAGE = "https://page.test/a/"
SPECIAL = " \t\n\r\f\x00\x01\x7f\x85\ud800;,='\"<>\\/.:-_uUrRlL0123456789"

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = [pytest.mark.timeout(60), pytest.mark.xdist_group("heavy")]
quick = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

#: text biased towards the characters the parsers branch on
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters(codec="utf-8")), max_size=300
)
hostile_bytes = st.binary(max_size=400) | hostile_text.map(
    lambda s: s.encode("utf-8", "surrogatepass")
)

# --- the repetitive family: prefix + piece * n + suffix, up to about a megabyte ----------

PIECES = [
    " ", "<", "<a>", ";", ",", "\\", '"', "'", "u", "url=", "0", ".", "charset=", "<meta ",
    "<!--", "a=a ", "noindex,", "googlebot:", "unavailable_after: x,", "é.", "\t",
]  # fmt: skip
PREFIXES = ["", "0;", "1; url=", "<x>; rel=", '<meta charset="', "unavailable_after: ", "<a "]
repetitive = st.builds(
    lambda prefix, piece, n, suffix: prefix + piece * n + suffix,
    st.sampled_from(PREFIXES),
    st.sampled_from(PIECES),
    st.integers(min_value=1, max_value=(1 << 20) // 4),
    st.sampled_from(["", "y", '"', ">", "; rel=canonical", "--><meta charset=koi8-r>"]),
)


def clean(value: str) -> bool:
    return value == untrusted.text(value, len(value) + 1) or value == untrusted.url(value)


@quick
@given(repetitive)
def test_every_parser_answers_a_repetitive_megabyte(value: str):
    refresh = parse_refresh(value)
    assert refresh is None or (refresh[0] >= 0 and (refresh[1] is None or refresh[1].strip()))
    found = header_canonical([value] * 8, PAGE)
    assert found is None or (found.isprintable() and len(found) <= untrusted.MAX_URL)
    assert all(isinstance(t, str) for t, _ in link_values(value))
    assert all(d == d.lower() for d in robots.header_directives(value))
    assert all(d == d.lower() for d in robots.meta_directives(value))
    encoding, _ = charset.sniff(value.encode("utf-8", "surrogatepass"), None)
    assert isinstance(encoding, webencodings.Encoding)


# --- refresh -----------------------------------------------------------------------------


@quick
@given(hostile_text)
def test_refresh_never_raises_and_gives_a_url_as_a_url_parser_reads_it(value: str):
    found = parse_refresh(value)
    if found is not None:
        delay, url = found
        assert delay >= 0
        if url is not None:
            assert url and not any(c in url for c in "\t\n\r")
            assert url[0] > " " and url[-1] > " "


@quick
@given(
    st.integers(min_value=0, max_value=10**6),
    st.text(alphabet=st.characters(codec="ascii", exclude_characters="'\"\t\n\r\x00"), min_size=1),
)
def test_refresh_round_trip(delay: int, url: str):
    url = url.strip("".join(map(chr, range(0x21))))
    if not url:
        return
    assert parse_refresh(f"{delay}; url={url}") == (delay, url)
    assert parse_refresh(f"{delay},'{url}'") == (delay, url)


# --- Link header ---------------------------------------------------------------------------


@quick
@given(hostile_text, hostile_text)
def test_link_header_never_raises_and_finds_a_canonical_after_junk(junk: str, path: str):
    found = header_canonical([junk], PAGE)
    assert found is None or found.isprintable()
    target = "/c" + "".join(c for c in path if c not in "<>")
    expected = header_canonical([f'<{target}>; rel="canonical"'], PAGE)
    assert expected is not None and expected.startswith("https://page.test/c")
    # junk that opens no link-value hides nothing after it, in the same header or the next
    plain = junk.replace("<", "")
    assert header_canonical([plain + f", <{target}>; rel=canonical"], PAGE) == expected
    assert header_canonical([plain, f"<{target}>; REL=Canonical"], PAGE) == expected


# --- robots --------------------------------------------------------------------------------


@quick
@given(hostile_text)
def test_robots_splitters_never_raise(value: str):
    for directive in robots.meta_directives(value) + robots.header_directives(value):
        assert directive == directive.lower() and directive == directive.strip()


@quick
@given(st.lists(st.sampled_from(sorted(robots._KNOWN - robots.VALUED)), max_size=8))
def test_robots_round_trip(directives: list[str]):
    assert robots.meta_directives(", ".join(d.upper() for d in directives)) == directives
    assert robots.header_directives("googlebot: " + ", ".join(directives)) == directives


# --- charset -------------------------------------------------------------------------------

LABELS = sorted(webencodings.LABELS)


@quick
@given(hostile_bytes)
def test_prescan_never_raises(body: bytes):
    found = charset.prescan(body[: charset.META_PRESCAN])
    assert found is None or isinstance(found, webencodings.Encoding)
    assert isinstance(charset.decode(body, None), str)


@quick
@given(st.sampled_from(LABELS), hostile_bytes.filter(lambda b: b"<" not in b))
def test_meta_charset_of_every_label_is_found(label: str, before: bytes):
    expected = webencodings.lookup(label).name
    expected = {"utf-16le": "utf-8", "utf-16be": "utf-8", "x-user-defined": "windows-1252"}.get(
        expected, expected
    )
    body = before[:500] + f'<meta charset="{label.upper()}">'.encode()
    assert charset.prescan(body).name == expected


# --- forms and JSON answers ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | hostile_text.filter(str.isprintable),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@quick
@given(st.dictionaries(st.sampled_from(["listing_url", "url", "id", "error", "x"]), json_values))
def test_json_answers_give_strings_or_nothing(body: dict):
    answer = JsonAnswer.read(msgspec.json.encode(body))
    assert answer is not None
    listing = body.get("listing_url") if isinstance(body.get("listing_url"), str) else None
    listing = listing or (body.get("url") if isinstance(body.get("url"), str) else None)
    assert answer.listing() == (listing or None)
    assert answer.returned_id() is None or isinstance(answer.returned_id(), str | int)


@quick
@given(hostile_bytes)
def test_json_answers_never_raise(raw: bytes):
    answer = JsonAnswer.read(raw)
    if answer is not None:
        assert answer.listing() is None or isinstance(answer.listing(), str)


@quick
@given(hostile_text)
def test_form_pages_never_raise(page: str):
    read = forms.read_form_page(page, PAGE, {"url": "u"}, {"url": "https://s.test/"})
    assert read.filled is None or read.filled.action.startswith(("https://", "http"))
    message = forms.answer_error(f'<div class="error">{page}</div>')
    assert message is None or clean(message)


# --- page analysis and cleaning ---------------------------------------------------------------


@quick
@given(hostile_text, hostile_text)
def test_page_facts_are_clean(attribute: str, text: str):
    attr = attribute.replace('"', "")
    page = (
        f'<meta name="robots" content="{attr}"><link rel="canonical" href="/{attr}">'
        f'<a href="https://example.com/{attr}" rel="{attr}">{text}</a>'
    )
    facts = analyse_html(page, PAGE)
    for link in facts.links:
        assert all(clean(v) for v in (link.url, link.anchor, *link.rel))
    assert all(clean(v) for v in facts.meta_robots)
    assert facts.canonical is None or clean(facts.canonical)


@quick
@given(hostile_text, st.integers(min_value=1, max_value=50))
def test_cleaned_strings_are_printable_capped_and_stable(value: str, limit: int):
    for cleaned in (untrusted.text(value, limit), untrusted.url(value, limit)):
        assert len(cleaned) <= limit
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in cleaned)
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in cleaned)
        cleaned.encode("utf-8")  # storable
    assert untrusted.text(untrusted.text(value, limit), limit) == untrusted.text(value, limit)
