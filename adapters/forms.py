"""Reading a directory's submission page with lxml: which form to fill, which input takes
which site field, whether a captcha guards it, and what error the directory showed.

The page is a stranger's: attributes are read up to `untrusted.MAX_VALUE` characters (the
ones we match words in up to `_ATTR`), at most `MAX_FORMS` forms, `MAX_INPUTS` inputs per
form and `MAX_LABELS` labels are considered, and no element's text is read twice, so the
work stays linear in the page however it nests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html
from lxml import etree
from lxml.etree import ParserError

from adapters import untrusted

MAX_FORMS = 50
MAX_INPUTS = 500
MAX_LABELS = 500
#: attributes we look for words in (name, id, class, label text…) are read this far
_ATTR = 256

#: site field -> words that identify its input (by name, id, label or placeholder);
#: the most specific fields are matched first so "email" never lands in "name"
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "contact_email": ("email", "e-mail", "mail"),
    "url": ("url", "website", "homepage", "site address", "link", "web"),
    "description": ("description", "desc", "about", "summary", "details"),
    "keywords": ("keywords", "keyword", "tags"),
    "category": ("category", "categories"),
    "name": ("name", "title", "business", "company", "site"),
}
TYPE_HINTS = {"url": "url", "email": "contact_email"}

CAPTCHA = re.compile(
    r"g-recaptcha|h-captcha|cf-turnstile|recaptcha/api|hcaptcha\.com|"
    r"challenges\.cloudflare\.com|turnstile",
    re.I,
)
ERROR_CLASS = re.compile(
    r"\b(error|errors|alert-danger|alert-error|invalid-feedback|"
    r"field-error|errorlist)\b",
    re.I,
)


@dataclass
class FilledForm:
    method: str
    action: str
    data: list[tuple[str, str]] = field(default_factory=list)
    matched: dict[str, str] = field(default_factory=dict)  # site field -> input name


def parse(html_text: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(html_text)
    except (ParserError, ValueError):
        return None


def _attr(el: lxml.html.HtmlElement, name: str, limit: int = _ATTR) -> str:
    return untrusted.capped(el.get(name), limit)


def _text(el: lxml.html.HtmlElement, limit: int) -> str:
    """The element's text, whitespace collapsed, at most `limit` characters. (libxml2
    computes the whole text in C; callers never ask twice for the same node's text.)"""
    return " ".join(el.text_content()[: 8 * limit].split())[:limit]


def has_captcha(doc: lxml.html.HtmlElement) -> bool:
    for el in doc.iter("div", "script", "iframe", "span"):
        text = " ".join(filter(None, (_attr(el, "class"), _attr(el, "src"), _attr(el, "id"))))
        if text and CAPTCHA.search(text):
            return True
    return False


def error_message(doc: lxml.html.HtmlElement) -> str | None:
    """The first error the page shows (class names like `error`, or role=alert), cleaned.
    An error element without text has none in its descendants either: they are skipped,
    so nested error boxes cost one walk, not one per box."""
    walk = etree.iterwalk(doc, events=("start",))
    for _, el in walk:
        if not isinstance(el.tag, str):
            continue
        if ERROR_CLASS.search(_attr(el, "class")) or _attr(el, "role", 16) == "alert":
            text = _text(el, 300)
            if text:
                return untrusted.text(text)
            walk.skip_subtree()
    return None


def _labels(doc: lxml.html.HtmlElement) -> dict[str, str]:
    """`for` → the label's text, for the first `MAX_LABELS` labels. A label inside a label
    (invalid, but parsers build it) is part of the outer one's text and not read again."""
    out: dict[str, str] = {}
    walk = etree.iterwalk(doc, events=("start",), tag="label")
    for _, label in walk:
        target = label.get("for")
        if target:
            out.setdefault(target[:_ATTR], _text(label, _ATTR).lower())
        walk.skip_subtree()
        if len(out) == MAX_LABELS:
            break
    return out


def _describe(el: lxml.html.HtmlElement, labels: dict[str, str]) -> str:
    parts = [
        _attr(el, "name"),
        _attr(el, "id"),
        _attr(el, "placeholder"),
        _attr(el, "aria-label"),
        labels.get(_attr(el, "id")),
    ]
    return " ".join(p.lower() for p in parts if p)


def _fillable(form: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    out = []
    for el in _inputs(form, "input", "textarea", "select"):
        kind = (_attr(el, "type", 32) or "text").lower()
        if el.get("name") and kind not in (
            "hidden",
            "submit",
            "button",
            "image",
            "reset",
            "checkbox",
            "radio",
            "file",
            "password",
        ):
            out.append(el)
    return out


def _inputs(form: lxml.html.HtmlElement, *tags: str) -> list[lxml.html.HtmlElement]:
    """The form's first `MAX_INPUTS` elements with these tags."""
    found = []
    for el in form.iter(*tags):
        found.append(el)
        if len(found) == MAX_INPUTS:
            break
    return found


def match_fields(
    form: lxml.html.HtmlElement, labels: dict[str, str], field_map: dict[str, str]
) -> dict[str, str]:
    """site field -> input name: the directory's field map first, then by type, then by
    the words in each input's name, id, label and placeholder."""
    inputs = _fillable(form)
    names = {el.get("name") for el in inputs} | {
        el.get("name") for el in _inputs(form, "input") if el.get("name")
    }
    matched = {f: n for f, n in field_map.items() if n in names}
    taken = set(matched.values())
    for el in inputs:
        site_field = TYPE_HINTS.get(_attr(el, "type", 32).lower())
        if site_field and site_field not in matched and el.get("name") not in taken:
            matched[site_field] = el.get("name")
            taken.add(el.get("name"))
    for site_field, words in FIELD_WORDS.items():
        if site_field in matched:
            continue
        for el in inputs:
            name = el.get("name")
            if name in taken:
                continue
            described = _describe(el, labels)
            if any(re.search(rf"(^|[^a-z]){re.escape(w)}", described) for w in words):
                matched[site_field] = name
                taken.add(name)
                break
    return matched


def _defaults(form: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    """What the browser would send untouched: hidden inputs (CSRF tokens), prefilled
    values, checked boxes, selected options, and the first named submit button."""
    data: list[tuple[str, str]] = []
    submit_done = False
    for el in _inputs(form, "input", "textarea", "select", "button"):
        name = el.get("name")
        if not name:
            continue
        kind = (_attr(el, "type", 32) or ("submit" if el.tag == "button" else "text")).lower()
        if el.tag == "textarea":
            data.append((name, el.text or ""))
        elif el.tag == "select":
            options = _inputs(el, "option")
            chosen = [o for o in options if o.get("selected") is not None] or options[:1]
            if chosen:
                value = chosen[0].get("value")  # else its text (an option holds text only)
                text = " ".join((chosen[0].text or "").split())
                data.append((name, value if value is not None else text))
        elif kind in ("checkbox", "radio"):
            if el.get("checked") is not None:
                data.append((name, el.get("value", "on")))
        elif kind == "submit":
            if not submit_done:
                data.append((name, el.get("value", "")))
                submit_done = True
        elif kind not in ("file", "image", "reset", "button"):
            data.append((name, el.get("value", "")))
    return data


def fill(
    doc: lxml.html.HtmlElement, page_url: str, field_map: dict[str, str], values: dict[str, str]
) -> FilledForm | None:
    """The best form on the page (most site fields matched; it must take the URL),
    filled with `values`; None when no form takes a URL."""
    labels = _labels(doc)
    best: tuple[int, lxml.html.HtmlElement, dict[str, str]] | None = None
    for i, form in enumerate(doc.iter("form")):
        if i == MAX_FORMS:
            break
        matched = match_fields(form, labels, field_map)
        if "url" in matched and (best is None or len(matched) > best[0]):
            best = (len(matched), form, matched)
    if best is None:
        return None
    _, form, matched = best
    base = doc.find(".//base[@href]")
    base_url = urljoin(page_url, base.get("href")) if base is not None else page_url
    filled = FilledForm(
        method=(form.get("method") or "get").upper(),
        action=urljoin(base_url, form.get("action") or ""),
        matched=matched,
    )
    overrides = {name: values.get(site_field, "") for site_field, name in matched.items()}
    data = [(k, overrides.pop(k) if k in overrides else v) for k, v in _defaults(form)]
    data += list(overrides.items())
    filled.data = data
    return filled


@dataclass
class FormPage:
    """What a submission page offers: is it HTML, is it guarded by a captcha, and the
    form we would send (None when no form takes a URL)."""

    html: bool
    captcha: bool = False
    filled: FilledForm | None = None


def read_form_page(
    html_text: str, page_url: str, field_map: dict[str, str], values: dict[str, str]
) -> FormPage:
    doc = parse(html_text)
    if doc is None:
        return FormPage(html=False)
    if has_captcha(doc):
        return FormPage(html=True, captcha=True)
    return FormPage(html=True, filled=fill(doc, page_url, field_map, values))


def answer_error(html_text: str) -> str | None:
    """The error message a directory's answer page shows, if any."""
    doc = parse(html_text)
    return error_message(doc) if doc is not None else None
