"""Reading a directory's submission page with lxml: which form to fill, which input takes
which site field, whether a captcha guards it, and what error the directory showed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html
from lxml.etree import ParserError

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


def has_captcha(doc: lxml.html.HtmlElement) -> bool:
    for el in doc.iter("div", "script", "iframe", "span"):
        text = " ".join(filter(None, (el.get("class"), el.get("src"), el.get("id"))))
        if text and CAPTCHA.search(text):
            return True
    return False


def error_message(doc: lxml.html.HtmlElement) -> str | None:
    """The first error the page shows (class names like `error`, or role=alert)."""
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        if ERROR_CLASS.search(el.get("class") or "") or el.get("role") == "alert":
            text = " ".join(el.text_content().split())
            if text:
                return text[:300]
    return None


def _labels(doc: lxml.html.HtmlElement) -> dict[str, str]:
    out = {}
    for label in doc.iter("label"):
        target = label.get("for")
        if target:
            out[target] = " ".join(label.text_content().split()).lower()
    return out


def _describe(el: lxml.html.HtmlElement, labels: dict[str, str]) -> str:
    parts = [
        el.get("name"),
        el.get("id"),
        el.get("placeholder"),
        el.get("aria-label"),
        labels.get(el.get("id") or ""),
    ]
    return " ".join(p.lower() for p in parts if p)


def _fillable(form: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    out = []
    for el in form.iter("input", "textarea", "select"):
        kind = (el.get("type") or "text").lower()
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


def match_fields(
    form: lxml.html.HtmlElement, labels: dict[str, str], field_map: dict[str, str]
) -> dict[str, str]:
    """site field -> input name: the directory's field map first, then by type, then by
    the words in each input's name, id, label and placeholder."""
    inputs = _fillable(form)
    names = {el.get("name") for el in inputs} | {
        el.get("name") for el in form.iter("input") if el.get("name")
    }
    matched = {f: n for f, n in field_map.items() if n in names}
    taken = set(matched.values())
    for el in inputs:
        site_field = TYPE_HINTS.get((el.get("type") or "").lower())
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
    for el in form.iter("input", "textarea", "select", "button"):
        name = el.get("name")
        if not name:
            continue
        kind = (el.get("type") or ("submit" if el.tag == "button" else "text")).lower()
        if el.tag == "textarea":
            data.append((name, el.text or ""))
        elif el.tag == "select":
            options = el.findall(".//option")
            chosen = [o for o in options if o.get("selected") is not None] or options[:1]
            if chosen:
                data.append((name, chosen[0].get("value", chosen[0].text_content())))
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
    for form in doc.iter("form"):
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
