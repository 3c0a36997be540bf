"""Every parser of third-party input, fed 1 MB built to hurt it: each answers correctly and
at once. Before the linear rewrites, the refresh, Link and robots inputs here ran for
minutes to hours; the timeout mark is the bound (a generous one: no speed is asserted)."""

from __future__ import annotations

import pytest

from adapters import charset, forms, page_analysis, untrusted
from adapters.page_analysis import analyse_html, header_canonical, meta_refresh, parse_refresh
from adapters.submitters import JsonAnswer
from domain import robots

MB = 1 << 20
PAGE = "https://page.test/dir/"

pytestmark = pytest.mark.timeout(10)


# --- refresh ---------------------------------------------------------------------------


def test_refresh_with_a_megabyte_of_spaces_in_its_url():
    # the example: quadratic in the old regex
    assert parse_refresh("0;x" + " " * MB + "y") == (0, "x")


def test_refresh_with_a_megabyte_before_or_inside_its_parts():
    assert parse_refresh(" " * MB + "1; url=/next") is None  # nothing readable in the cap
    # a value is read up to MAX_VALUE characters: what lies beyond is not seen
    assert parse_refresh("9" * MB + "; url=/next") == (10**9, None)
    assert parse_refresh("0" * MB + "3; url=/next") == (0, None)
    assert parse_refresh("1" + "." * MB) == (1, None)
    assert parse_refresh("1; url='" + "a" * MB) == (1, "a" * (untrusted.MAX_VALUE - 8))
    assert parse_refresh("1; url=" + "\t\n" * MB + "/x") == (1, None)


def test_meta_refresh_in_a_megabyte_page():
    content = "0; url=/there" + "\t" * MB
    page = f'<html><head><meta http-equiv="refresh" content="{content}"></head></html>'
    found = meta_refresh(page)
    assert found is not None and len(found) == untrusted.MAX_VALUE
    assert parse_refresh(found) == (0, "/there")


# --- Link header -----------------------------------------------------------------------


def test_link_header_of_opening_brackets():
    assert header_canonical(["<" * MB] * 128, PAGE) is None


@pytest.mark.parametrize(
    "junk",
    ["<a>" + ";" * MB, "<a>; rel=" + '"' + "\\" * MB, "<a>" * (MB // 3), '<a>; t="' + "," * MB],
)
def test_link_header_junk_then_a_canonical(junk: str):
    assert header_canonical([junk] * 128, PAGE) is None
    # a canonical before the junk is still found
    assert header_canonical(['</c>; rel="canonical", ' + junk], PAGE) == "https://page.test/c"


# --- robots ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("unavailable_after: " + "x, " * (MB // 3), 1),
        ("googlebot: " + " " * MB + "noindex", 0),
        ("a:" * (MB // 2), 0),
        ("noindex, " + " , " * (MB // 3), 1),
        ("googlebot: noindex, " + "otherbot: x, " * (MB // 13), 1),
    ],
)
def test_robots_values_of_a_megabyte(value: str, expected: int):
    assert len(robots.header_directives(value)) == expected
    assert len(robots.meta_directives(value)) >= 1


# --- page analysis: attributes, meta contents, rel, anchors ------------------------------


def test_huge_attributes_and_texts_come_out_capped_and_clean():
    rel = "no\x01follow " + "x " * (MB // 2)
    # (a NUL in an HTML body is U+FFFD once parsed, as in browsers; other controls stay)
    anchor = "Ex\x01ample\x1b " + "word " * (MB // 5)
    page = (
        f'<meta name="robots" content="noindex\x07, {"y" * MB}">'
        f'<link rel="canonical" href="/c\x01{"a" * MB}">'
        f'<a href="https://example.com/{"p" * MB}" rel="{rel}">{anchor}</a>'
    )
    facts = analyse_html(page, PAGE)
    [link] = facts.links
    assert link.host == "example.com"
    assert len(link.url) == untrusted.MAX_URL and link.url.startswith("https://example.com/ppp")
    assert link.rel[:2] == ("nofollow", "x")
    assert link.anchor.startswith("Example word word") and len(link.anchor) == untrusted.MAX_TEXT
    assert facts.meta_robots[0].startswith("noindex, yyy")
    assert len(facts.meta_robots[0]) == untrusted.MAX_TEXT
    assert facts.canonical is not None and len(facts.canonical) <= untrusted.MAX_URL
    assert facts.canonical.startswith("https://page.test/caaa")
    for value in [link.url, *link.rel, link.anchor, facts.canonical, *facts.meta_robots]:
        assert value.isprintable()


def test_thousands_of_robots_metas_give_a_bounded_list():
    page = "".join(f'<meta name="robots" content="d{i}">' for i in range(50_000))
    assert analyse_html(page, PAGE).meta_robots == [f"d{i}" for i in range(untrusted.MAX_VALUES)]


def test_a_megabyte_host_name_token_of_non_ascii_letters():
    facts = analyse_html("<p>" + "é." * (MB // 2) + " www.example.com</p>", PAGE)
    assert "www.example.com" in facts.mentions


# --- charset -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"<meta charset=" + b" " * MB + b"koi8-r>", "windows-1252"),  # past 64 KB
        (b"<!--" + b"-" * MB + b'--><meta charset="koi8-r">', "windows-1252"),
        (b"<a " + b"a=a " * (MB // 4) + b'><meta charset="koi8-r">', "windows-1252"),
        (b"<meta " + b'content="charset' * (MB // 16), "windows-1252"),
        (b"<p " + b"x=y " * 300 + b'><meta charset="koi8-r">', "koi8-r"),
        (b'<meta http-equiv="content-type" content="' + b"charset " * 100 + b'charset=koi8-r">',
         "koi8-r"),
    ],
)  # fmt: skip
def test_charset_tricks_in_a_megabyte(head: bytes, expected: str):
    assert charset.sniff(head, "text/html")[0].name == expected
    assert isinstance(charset.decode(head, "text/html"), str)


def test_content_type_header_of_a_megabyte():
    assert charset.header_charset("text/html; " + "charset=" * (MB // 8)) is None
    assert charset.header_charset("text/html;" + " " * MB + "charset=koi8-r") is None


# --- form pages ----------------------------------------------------------------------------


def test_nested_error_boxes_are_read_once():
    # libxml2 stops nesting at depth 256; below that, every box holds 2,000 empty
    # elements, and none has text: reading each box's text would be quadratic
    depth = 250
    boxes = ('<div class="error">' + "<i></i>" * 2_000) * depth + "</div>" * depth
    assert forms.answer_error(boxes) is None
    assert forms.answer_error(boxes + '<p role="alert">Name\x01 is\x1b required</p>') == (
        "Name is required"
    )


def test_huge_form_page_still_finds_the_form():
    noise = "".join(f'<form action="/f{i}"><input name="q{i}"></form>' for i in range(5_000))
    labels = ("<label for='u'>" * 200 + "</label>" * 200) * 25
    big = "z" * MB
    page = (
        noise
        + labels
        + f'<form method="post" action="/submit"><input type="hidden" name="csrf" value="{big}">'
        + f'<input name="website" placeholder="Website {big}"><input name="n" class="{big}">'
        + "</form>"
    )
    read = forms.read_form_page(page, PAGE, {"url": "website"}, {"url": "https://s.test/"})
    assert read.html and not read.captcha
    # only the first MAX_FORMS forms are considered: the real one is past them
    assert read.filled is None
    first = page[len(noise) :]
    read = forms.read_form_page(first, PAGE, {"url": "website"}, {"url": "https://s.test/"})
    assert read.filled is not None
    assert read.filled.action == "https://page.test/submit"
    assert ("website", "https://s.test/") in read.filled.data


def test_a_form_with_a_megabyte_of_inputs():
    inputs = "<input name='x' value='1'>" * 40_000
    page = f"<form action='/s'><input name='url'>{inputs}</form>"
    read = forms.read_form_page(page, PAGE, {}, {"url": "https://s.test/"})
    assert read.filled is not None
    assert len(read.filled.data) == forms.MAX_INPUTS


# --- a directory's JSON answer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "listing", "said"),
    [
        (b'{"x": ' + b"[" * MB + b"]" * MB + b', "listing_url": "/l"}', None, None),
        (b"[" * MB, None, None),
        (b'{"listing_url": {"a": ' + b"[" * 500 + b"]" * 500 + b'}, "url": "/u"}', "/u", None),
        (b'{"error": "' + b"e" * MB + b'", "message": "m"}', None, "e" * MB),
        (b'{"error": 5, "message": "m\\u0000"}', None, "m\x00"),
        # msgspec refuses a lone surrogate: the answer is unreadable
        (b'{"listing_url": "' + b"\\ud800" * (MB // 6) + b'"}', None, None),
    ],
)
def test_json_answers_are_read_member_by_member(raw: bytes, listing, said):
    answer = JsonAnswer.read(raw)
    assert (answer.listing() if answer else None) == listing
    assert (answer.said() if answer else None) == said


def test_a_deep_or_huge_id_is_no_id():
    answer = JsonAnswer.read(b'{"id": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")
    assert answer is None
    answer = JsonAnswer.read(b'{"id": {"deep": [1, 2]}, "listing_url": "/x"}')
    assert answer is not None and (answer.returned_id(), answer.listing()) == (None, "/x")
    answer = JsonAnswer.read(b'{"id": "' + b"7" * MB + b'"}')
    assert answer is not None and answer.returned_id() == "7" * 200


# --- cleaning ------------------------------------------------------------------------------


def test_cleaning_removes_controls_and_lone_surrogates_and_caps():
    assert untrusted.text("a\x00b\tc\r\nd\x7f\x85e\x9f\ud800f") == "ab c d ef"
    assert untrusted.url("https://x.test/\x00a\tb\nc\ud83d") == "https://x.test/abc"
    assert untrusted.text("x" * MB) == "x" * untrusted.MAX_TEXT
    assert untrusted.url("\x00" * MB) == ""
    assert untrusted.text("naïve café — ok") == "naïve café — ok"
    assert page_analysis.rel_tokens("a\x00b") == ("ab",)
