"""The Content-Security-Policy of the HTML pages, computed once at start-up.

Inline `<script>` and `<style>` elements are allowed by their sha256 hash, taken from the
pages this app serves as they are at start-up (every file in `api/pages/` and the /docs
page), never from a response: markup injected into a response is not hashed, so it does
not run. Scripts and style sheets served as files from this origin are allowed too
('self'). Inline event handlers (`onclick=`), `style=` attributes and `javascript:` URLs
are not: a page must attach its handlers from a script (`addEventListener`) and style
through its `<style>` element or classes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from importlib import resources

#: every answer that is not an HTML page: it loads nothing and is never framed
API_POLICY = "default-src 'none'; frame-ancestors 'none'"

_INLINE = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_SRC = re.compile(r"\bsrc\s*=", re.IGNORECASE)


def _digest(text: str) -> str:
    # what the browser hashes: the element's text after the HTML parser's newline
    # normalisation, in UTF-8
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_hashes(page: str) -> tuple[list[str], list[str]]:
    """The CSP hash sources of `page`'s inline scripts and of its inline styles."""
    scripts: list[str] = []
    styles: list[str] = []
    for match in _INLINE.finditer(page):
        tag, attributes, text = match.group(1).lower(), match.group(2), match.group(3)
        if tag == "script" and _SRC.search(attributes):
            continue  # a script file: allowed by 'self', its element's text never runs
        (scripts if tag == "script" else styles).append(_digest(text))
    return scripts, styles


def page_sources() -> list[str]:
    """Every page file the app serves (`api/pages/*.html`)."""
    folder = resources.files("api").joinpath("pages")
    return [
        entry.read_text("utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".html")
    ]


def html_policy(pages: Iterable[str]) -> str:
    scripts: list[str] = []
    styles: list[str] = []
    for page in pages:
        s, t = inline_hashes(page)
        scripts += [h for h in s if h not in scripts]
        styles += [h for h in t if h not in styles]
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src 'self'", *scripts]),
            " ".join(["style-src 'self'", *styles]),
            "connect-src 'self'",
            "img-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
