"""What a delivery example shows the public (`domain.showcase`): the evidence of the last
check, with the directory and the customer replaced by placeholders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from domain.directory import parse_catalogue
from domain.errors import ValidationFailed
from domain.showcase import (
    ANCHOR_NONE,
    ANCHOR_OTHER,
    ANCHOR_SITE_ADDRESS,
    ANCHOR_SITE_NAME,
    DEEP_PLACEHOLDER,
    HOME_PLACEHOLDER,
    LISTING_PLACEHOLDER,
    ExampleChoice,
    ExampleFacts,
    IdentifyingNote,
    anonymise,
    check_note,
    describe_anchor,
    shown,
)
from tests.support import catalogue_json

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def facts(**given) -> ExampleFacts:
    choice = ExampleChoice(uuid.uuid4(), uuid.uuid4(), "Live within a day", "ops@host", AT)
    values = dict(
        choice=choice,
        status="live",
        source_url="https://acme-links.example/site/shop.customer.com",
        target_url="https://shop.customer.com/pricing",
        anchor_text="Shop Customer",
        link_type="dofollow",
        rel_attributes=["noopener", "x-tracking-shop.customer.com"],
        http_status=200,
        indexable=True,
        last_checked_at=AT,
        category="saas",
        domain_rating=41,
        site_name="Shop Customer",
        site_domain="shop.customer.com",
        peers=3,
    )
    return ExampleFacts(**{**values, **given})


def test_an_example_keeps_the_evidence_and_hides_who_is_who():
    example = anonymise(facts(), "ex_1")
    text = msgspec.json.encode(example).decode()
    for secret in ("acme-links", "customer.com", "Shop Customer", "x-tracking"):
        assert secret not in text
    assert example.dr_tier == "30-49" and example.category == "saas"
    e = example.evidence
    assert e.listing_url == LISTING_PLACEHOLDER and e.target_url == DEEP_PLACEHOLDER
    assert (e.link_found, e.link_type, e.http_status, e.indexable) == (True, "dofollow", 200, True)
    assert e.anchor == ANCHOR_SITE_NAME and e.rel_attributes == ["noopener"]
    assert e.checked_at == AT and example.note == "Live within a day"


def test_a_category_shared_by_too_few_directories_is_not_named():
    assert anonymise(facts(peers=2), "ex_1").category is None
    assert anonymise(facts(peers=3), "ex_1").category == "saas"


def test_the_home_page_target_has_its_own_placeholder():
    assert anonymise(facts(target_url="https://shop.customer.com/"), "x").evidence.target_url == (
        HOME_PLACEHOLDER
    )
    assert anonymise(facts(target_url=None), "x").evidence.target_url == HOME_PLACEHOLDER


@pytest.mark.parametrize(
    ("anchor", "described"),
    [
        (None, ANCHOR_NONE),
        ("  ", ANCHOR_NONE),
        ("shop   CUSTOMER", ANCHOR_SITE_NAME),
        ("https://www.shop.customer.com/", ANCHOR_SITE_ADDRESS),
        ("visit shop.customer.com today", ANCHOR_SITE_ADDRESS),
        ("Best CRM for teams", ANCHOR_OTHER),
    ],
)
def test_the_anchor_is_described_never_quoted(anchor, described):
    assert describe_anchor(anchor, "Shop Customer", "shop.customer.com") == described


def test_only_live_chosen_backlinks_are_shown():
    live, lost = facts(), facts(status="lost")
    removed = facts(choice=msgspec.structs.replace(live.choice, removed_at=AT, removed_by="x"))
    assert shown([live, lost, removed]) == [live]


CATALOGUE = parse_catalogue(catalogue_json(3))  # "Dir 1".."Dir 3", https://dir1.example/...


@pytest.mark.parametrize(
    "note",
    [
        "Listed on dir 2 within hours",
        "see https://dir3.example/x",
        "DIR1.EXAMPLE was quick",
        "great result for shop customer",
        "shop.customer.com ranks now",
    ],
)
def test_a_note_that_names_a_directory_or_the_customer_is_refused(note):
    with pytest.raises(IdentifyingNote) as refused:
        check_note(note, CATALOGUE, "Shop Customer", "shop.customer.com")
    assert refused.value.field == "note"


def test_a_plain_note_is_kept_trimmed_and_an_empty_one_is_none():
    assert check_note("  Live the same day  ", CATALOGUE, "Shop", "shop.com") == (
        "Live the same day"
    )
    assert check_note("   ", CATALOGUE, "Shop", "shop.com") is None
    assert check_note(None, CATALOGUE, "Shop", "shop.com") is None
    with pytest.raises(ValidationFailed):
        check_note("two\nlines", CATALOGUE, "Shop", "shop.com")
    with pytest.raises(ValidationFailed):
        check_note("x" * 301, CATALOGUE, "Shop", "shop.com")
