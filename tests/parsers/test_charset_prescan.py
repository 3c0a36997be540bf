"""The charset of a page is the one browsers pick: every case of html5lib-tests'
`encoding/tests1.dat` and `encoding/tests2.dat` (html5lib-tests commit 224991ec, MIT
licence; the files are copied verbatim into `data/`). Their expected names are WHATWG
encoding names, which is what `webencodings` calls its encodings.

Seven cases of tests1.dat (the 2048- to 8192-character comments and the multi-script page)
put the `<meta>` after the first 1024 bytes: no prescan sees it, a browser's parser does
and changes the encoding. `charset.LATE_META` is that rule, so those pass too."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import charset

DATA = Path(__file__).parent / "data"


def read_dat(path: Path) -> list[tuple[bytes, str]]:
    """`#data` / `#encoding` sections: (the document's bytes, the expected encoding)."""
    cases: list[tuple[bytes, str]] = []
    section, data, encoding = "", [], []
    lines = path.read_bytes().split(b"\n")
    for line in [*lines, b"#data"]:
        if line in (b"#data", b"#encoding"):
            if line == b"#data" and encoding:
                cases.append((b"\n".join(data), encoding[0].decode().strip().lower()))
                data, encoding = [], []
            section = line.decode()
            continue
        (data if section == "#data" else encoding).append(line)
    return cases


CASES = [
    pytest.param(body, expected, id=f"{name}:{i}")
    for name in ("html5lib_encoding_tests1.dat", "html5lib_encoding_tests2.dat")
    for i, (body, expected) in enumerate(read_dat(DATA / name))
]


def test_every_case_of_both_files_is_read():
    assert len(CASES) == 81


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_encoding_is_the_one_browsers_pick(body: bytes, expected: str):
    encoding, _ = charset.sniff(body, "text/html")
    assert encoding.name == expected


def test_bom_then_header_then_prescan_then_windows_1252():
    meta = b'<meta charset="iso-8859-2">'
    assert charset.sniff(b"\xef\xbb\xbf" + meta, "text/html; charset=koi8-r")[0].name == "utf-8"
    assert charset.sniff(meta, "text/html; charset=koi8-r")[0].name == "koi8-r"
    assert charset.sniff(meta, "text/html")[0].name == "iso-8859-2"
    assert charset.sniff(b"<p>caf\xe9", None)[0].name == "windows-1252"


def test_web_labels_mean_what_they_mean_in_browsers():
    assert charset.sniff(b"", "text/html; charset=latin1")[0].name == "windows-1252"
    assert charset.sniff(b"", "text/html; charset=ascii")[0].name == "windows-1252"
    assert charset.sniff(b'<meta charset="utf-16">', None)[0].name == "utf-8"
    assert charset.sniff(b'<meta charset="x-user-defined">', None)[0].name == "windows-1252"
    assert charset.decode(b"abc", "text/html; charset=iso-2022-kr") == "\ufffd"
    assert charset.decode(b"\xe9t\xe9", "text/html; charset=iso-8859-1") == "été"
