"""Delivery examples: verified listings an operator chose to show on the public pages, and
what of them the public may see.

Anonymised means that nothing on the page names the directory or the customer:

* the directory appears as its DR tier, and its category only when at least
  `MIN_DIRECTORIES` active directories share that category and tier (a category with one
  directory in a tier would name it to anyone who knows the catalogue);
* the listing URL and the link's target are placeholders (`https://directory.example/
  listing`, `https://customer.example/` — with `…` when the link went deeper than the
  home page);
* the anchor text, which is the customer's own words (usually their brand), is described,
  never quoted: "the site's name", "the site's address", "other text" or "none";
* rel tokens are kept only when they are standard ones (a page may put anything there);
* what stays is what a check shows: link found, its type, HTTP status, indexable, and
  when it was checked.

The operator's note is free text shown beside the example, so adding one that names a
catalogue directory (name or host) or the customer (site name or domain) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from domain.backlink import LIVE
from domain.directory import Directory, dr_tier
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.public_figures import MIN_DIRECTORIES

LISTING_PLACEHOLDER = "https://directory.example/listing"
HOME_PLACEHOLDER = "https://customer.example/"
DEEP_PLACEHOLDER = "https://customer.example/…"

#: rel tokens worth showing; anything else a page wrote there is dropped
STANDARD_REL = frozenset(
    {"nofollow", "ugc", "sponsored", "noopener", "noreferrer", "external", "me", "follow"}
)

ANCHOR_NONE = "none"
ANCHOR_SITE_NAME = "the site's name"
ANCHOR_SITE_ADDRESS = "the site's address"
ANCHOR_OTHER = "other text"

NOTE_MAX = 300
Note = Annotated[str, msgspec.Meta(max_length=NOTE_MAX)]


class UnknownBacklink(NotFound):
    code = "unknown_backlink"


class NotVerified(Conflict):
    """Only a live backlink (its last check found the link) is a delivery example."""

    code = "backlink_not_verified"


class NotADelivery(Conflict):
    """A backlink no directory gave (one the customer added for monitoring) shows nothing
    we delivered."""

    code = "backlink_not_a_delivery"


class DuplicateExample(Conflict):
    code = "example_exists"


class UnknownExample(NotFound):
    code = "unknown_example"


class IdentifyingNote(ValidationFailed):
    code = "identifying_note"


class ExampleChoice(msgspec.Struct, frozen=True):
    """The operator's choice of one backlink, with who made it and when; a removed choice
    keeps who removed it and when (the audit of what the public was shown)."""

    id: UUID
    backlink_id: UUID
    note: str | None
    added_by: str
    added_at: datetime
    removed_by: str | None = None
    removed_at: datetime | None = None


class ExampleFacts(msgspec.Struct, frozen=True):
    """A chosen backlink as the read models hold it now: the raw material of a public
    example, never shown as such (it names the directory's category and DR, the
    customer's site and the URLs)."""

    choice: ExampleChoice
    status: str
    source_url: str
    target_url: str | None
    anchor_text: str | None
    link_type: str | None
    rel_attributes: list[str]
    http_status: int | None
    indexable: bool
    last_checked_at: datetime
    category: str
    domain_rating: int
    site_name: str
    site_domain: str
    #: active directories that share this one's category and DR tier
    peers: int


class PublicEvidence(msgspec.Struct, frozen=True):
    """What the last check of the listing showed, with the URLs replaced by placeholders."""

    listing_url: str
    link_found: bool
    link_type: str | None
    anchor: str
    rel_attributes: list[str]
    target_url: str
    http_status: int | None
    indexable: bool
    checked_at: datetime


class PublicExample(msgspec.Struct, frozen=True):
    id: str
    dr_tier: str
    #: None when too few directories share it within the tier (it would identify one)
    category: str | None
    note: str | None
    evidence: PublicEvidence


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def _host(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").removeprefix("www.")
    except ValueError:
        return ""


def describe_anchor(anchor: str | None, site_name: str, site_domain: str) -> str:
    """What the anchor text was, without quoting it."""
    text = _words(anchor or "")
    if not text:
        return ANCHOR_NONE
    if text == _words(site_name):
        return ANCHOR_SITE_NAME
    domain = site_domain.casefold().removeprefix("www.")
    if domain and domain in text.replace(" ", ""):
        return ANCHOR_SITE_ADDRESS
    return ANCHOR_OTHER


def target_placeholder(target_url: str | None) -> str:
    try:
        path = urlsplit(target_url or "").path
    except ValueError:
        path = ""
    return HOME_PLACEHOLDER if path in ("", "/") else DEEP_PLACEHOLDER


def anonymise(facts: ExampleFacts, public_id: str) -> PublicExample:
    return PublicExample(
        id=public_id,
        dr_tier=dr_tier(facts.domain_rating),
        category=facts.category if facts.peers >= MIN_DIRECTORIES else None,
        note=facts.choice.note,
        evidence=PublicEvidence(
            listing_url=LISTING_PLACEHOLDER,
            link_found=facts.status == LIVE,
            link_type=facts.link_type,
            anchor=describe_anchor(facts.anchor_text, facts.site_name, facts.site_domain),
            rel_attributes=[r for r in facts.rel_attributes if r in STANDARD_REL],
            target_url=target_placeholder(facts.target_url),
            http_status=facts.http_status,
            indexable=facts.indexable,
            checked_at=facts.last_checked_at,
        ),
    )


def shown(facts: Iterable[ExampleFacts]) -> list[ExampleFacts]:
    """The examples the public page shows: chosen (not removed) and still live — a lost
    link is no longer a delivery to show (the operator's list says why it is hidden)."""
    return [f for f in facts if f.choice.removed_at is None and f.status == LIVE]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_note(
    note: str | None, catalogue: Iterable[Directory], site_name: str, site_domain: str
) -> str | None:
    """The note as stored (trimmed; None when empty), or `IdentifyingNote`/
    `ValidationFailed` when it cannot be shown."""
    if note is None or not note.strip():
        return None
    note = note.strip()
    if len(note) > NOTE_MAX or _CONTROL.search(note):
        raise ValidationFailed(f"a note is one line of at most {NOTE_MAX} characters", field="note")
    text = _words(note)
    squeezed = text.replace(" ", "")
    named = [("the customer's site", _words(site_name)), ("the customer's domain", site_domain)]
    for d in catalogue:
        named.append((f"directory {d.id}", _words(d.name)))
        for url in (d.homepage_url, d.submit_url, d.listing_url_template):
            named.append((f"directory {d.id}'s host", _host(url)))
    for who, word in named:
        word = word.casefold()
        if word and (word in text or ("." in word and word in squeezed)):
            raise IdentifyingNote(
                f"the note names {who}; public examples never identify a directory or a customer",
                field="note",
            )
    return note
