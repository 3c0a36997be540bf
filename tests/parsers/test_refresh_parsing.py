"""`parse_refresh` against web-platform-tests: every case of
`html/semantics/document-metadata/the-meta-element/pragma-directives/
attr-meta-http-equiv-refresh/parsing.html` (wpt commit 0d62f1c8), transcribed as data.

In that file `[]` means "no refresh" and `[time, "refresh.sub.html"]` a refresh to the
document itself (no URL given); here they are `None` and `(time, None)`."""

from __future__ import annotations

import pytest

from adapters.page_analysis import parse_refresh

SELF = None  # the document's own URL: the value gave none

WPT_CASES: list[tuple[str, tuple[int, str | None] | None]] = [
    ("", None),
    ("1", (1, SELF)),
    ("1 ", (1, SELF)),
    ("1\t", (1, SELF)),
    ("1\r", (1, SELF)),
    ("1\n", (1, SELF)),
    ("1\f", (1, SELF)),
    ("1;", (1, SELF)),
    ("1,", (1, SELF)),
    ("1; url=foo", (1, "foo")),
    ("1, url=foo", (1, "foo")),
    ("1 url=foo", (1, "foo")),
    ("1;\turl=foo", (1, "foo")),
    ("1,\turl=foo", (1, "foo")),
    ("1\turl=foo", (1, "foo")),
    ("1;\rurl=foo", (1, "foo")),
    ("1,\rurl=foo", (1, "foo")),
    ("1\rurl=foo", (1, "foo")),
    ("1;\nurl=foo", (1, "foo")),
    ("1,\nurl=foo", (1, "foo")),
    ("1\nurl=foo", (1, "foo")),
    ("1;\furl=foo", (1, "foo")),
    ("1,\furl=foo", (1, "foo")),
    ("1\furl=foo", (1, "foo")),
    ("1url=foo", None),
    ("1x;url=foo", None),
    ("1 x;url=foo", (1, "x;url=foo")),
    ("1;;url=foo", (1, ";url=foo")),
    ("  1  ;  url  =  foo", (1, "foo")),
    ("  1  ,  url  =  foo", (1, "foo")),
    ("  1  ;  foo", (1, "foo")),
    ("  1  ,  foo", (1, "foo")),
    ("  1  url  =  foo", (1, "foo")),
    ("1; url=foo ", (1, "foo")),
    ("1; url=f\to\no", (1, "foo")),
    ('1; url="foo"bar', (1, "foo")),
    ("1; url='foo'bar", (1, "foo")),
    ("1; url=\"foo'bar", (1, "foo'bar")),
    ("1; url foo", (1, "url foo")),
    ("1; urlfoo", (1, "urlfoo")),
    ("1; urfoo", (1, "urfoo")),
    ("1; ufoo", (1, "ufoo")),
    ('1; "foo"bar', (1, "foo")),
    ("; foo", None),
    (", foo", None),
    ("foo", None),
    ("+1; url=foo", None),
    ("-1; url=foo", None),
    ("+0; url=foo", None),
    ("-0; url=foo", None),
    ("0; url=foo", (0, "foo")),
    ("+1; foo", None),
    ("-1; foo", None),
    ("+0; foo", None),
    ("-0; foo", None),
    ("0; foo", (0, "foo")),
    ("+1", None),
    ("-1", None),
    ("+0", None),
    ("-0", None),
    ("0", (0, SELF)),
    ("1.9; url=foo", (1, "foo")),
    ("1.9..5.; url=foo", (1, "foo")),
    (".9; url=foo", (0, "foo")),
    ("0.9; url=foo", (0, "foo")),
    ("1e0; url=foo", None),
    ("1e1; url=foo", None),
    ("10e-1; url=foo", None),
    ("-0.1; url=foo", None),
]


def test_all_wpt_cases_are_here():
    assert len(WPT_CASES) == 69


@pytest.mark.parametrize(("value", "expected"), WPT_CASES, ids=[repr(v) for v, _ in WPT_CASES])
def test_refresh_value_is_read_as_browsers_read_it(value, expected):
    assert parse_refresh(value) == expected
