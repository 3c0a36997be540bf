"""The directory catalogue's entries: reference data, not an aggregate.

`Directory` is one entry as the import file gives it (ARCHITECTURE.md, "Directory
catalogue"); decoding a file into `list[Directory]` validates every field before anything
is written. What customers see is `public_view`; how to submit is never exposed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import quote

import msgspec

from domain.errors import ValidationFailed
from domain.link_types import PromisedLinkType
from domain.site import SiteFacts

SITE_FIELDS = ("url", "name", "description", "contact_email", "category", "keywords")

Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)]
#: a listing URL a directory's answer gave: absolute http(s), one line, bounded
_LISTING = re.compile(r"https?://[^\s/$.?#][^\s]{0,2040}", re.IGNORECASE)


class Directory(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    homepage_url: Url
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    domain_rating: Annotated[int, msgspec.Meta(ge=0, le=100)]
    link_type: PromisedLinkType
    turnaround_days: Annotated[int, msgspec.Meta(ge=0, le=365)]
    status: Literal["active", "paused"]
    method: Literal["form", "json"]
    submit_url: Url
    field_map: dict[str, str] = {}
    headers: dict[str, str] = {}
    success_pattern: str | None = None
    listing_url_template: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def within(self, dr_cap: int | None) -> bool:
        return dr_cap is None or self.domain_rating <= dr_cap

    @property
    def submission_method(self) -> str:
        return self.method

    def listing_url(self, site: SiteFacts, answer: SubmissionAnswer | None = None) -> str | None:
        """Where the listing of `site` is (ARCHITECTURE.md, "Directory catalogue"): the
        catalogue's `listing_url_template` filled in, when it has one; else the listing
        URL a JSON answer gave; else, for a form, the page a successful POST redirected
        to. A thank-you page is not a listing, so the template always wins. Without an
        `answer`, what the catalogue alone says (None when it cannot say)."""
        answer = answer or SubmissionAnswer()
        filled = self._filled_template(site, answer.returned_id)
        if filled is not None:
            return filled
        given = answer.listing_url if self.method == "json" else answer.redirected_to
        return given if given is not None and _LISTING.fullmatch(given) else None

    def _filled_template(self, site: SiteFacts, returned_id: object) -> str | None:
        template = self.listing_url_template
        if not template or ("{id}" in template and returned_id is None):
            return None
        return template.format(
            domain=site.domain,
            slug=slug(site.name),
            # the directory's own string: one path segment, whatever it holds
            id="" if returned_id is None else quote(str(returned_id)[:200], safe=""),
            url=quote(site.url, safe=""),
        )


class SubmissionAnswer(msgspec.Struct, frozen=True):
    """What a directory's answer to an accepted submission says about the listing."""

    #: the listing URL a JSON answer gave explicitly
    listing_url: str | None = None
    #: the id the directory gave the submission (the template's `{id}`)
    returned_id: str | int | None = None
    #: the page a form POST was redirected to (often a thank-you page)
    redirected_to: str | None = None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class InvalidCatalogue(ValidationFailed):
    code = "invalid_catalogue"


def parse_catalogue(data: bytes) -> list[Directory]:
    """Decode and validate a whole import file; raise `InvalidCatalogue` naming the first
    problem (with its JSON path) so nothing is written from a bad file."""
    if b"\\u0000" in data or b"\x00" in data:
        raise InvalidCatalogue("the file contains a NUL character, which no text field may hold")
    try:
        entries = msgspec.json.decode(data, type=list[Directory])
    except msgspec.ValidationError as exc:
        raise InvalidCatalogue(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidCatalogue(f"not valid JSON: {exc}") from None
    seen: set[int] = set()
    for i, d in enumerate(entries):
        where = f"$[{i}] (id {d.id})"
        if d.id in seen:
            raise InvalidCatalogue(f"{where}: duplicate id")
        seen.add(d.id)
        unknown = set(d.field_map) - set(SITE_FIELDS)
        if unknown:
            raise InvalidCatalogue(
                f"{where}: field_map names unknown site fields "
                f"{sorted(unknown)}; known: {list(SITE_FIELDS)}"
            )
        if d.success_pattern is not None:
            try:
                re.compile(d.success_pattern)
            except re.error as exc:
                raise InvalidCatalogue(f"{where}: success_pattern is not a regex: {exc}") from None
        if d.listing_url_template is not None:
            placeholders = set(re.findall(r"{(\w*)}", d.listing_url_template))
            bad = placeholders - {"domain", "slug", "id", "url"}
            if bad:
                raise InvalidCatalogue(
                    f"{where}: listing_url_template has unknown placeholders {sorted(bad)}"
                )
    return entries


DR_TIERS = ("0-29", "30-49", "50-69", "70+")


def dr_tier(domain_rating: int) -> str:
    """Quality tiers shown on the public coverage page."""
    if domain_rating >= 70:
        return "70+"
    if domain_rating >= 50:
        return "50-69"
    if domain_rating >= 30:
        return "30-49"
    return "0-29"
