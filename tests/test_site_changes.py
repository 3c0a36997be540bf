"""Which details of a site may change, decided by the domain: the URL never (a new URL is
a new site), unknown fields never, the customer's details always while the site is
active. Pure: no database, no HTTP."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import ValidationFailed
from domain.site import Site


def new_site() -> Site:
    return Site(
        account_id=uuid.uuid4(),
        url="https://example.com/",
        domain="example.com",
        name="Example",
        description="Old",
        category="retail",
        keywords=["a"],
        contact_email=None,
    )


def test_a_url_change_is_refused_with_the_api_words_and_records_nothing():
    site = new_site()
    with pytest.raises(ValidationFailed) as refused:
        site.update({"url": "https://other.example.com/", "name": "New"})
    assert refused.value.code == "validation_failed" and refused.value.field == "url"
    assert refused.value.details == (
        "A site's URL cannot change; register the new URL as a site and archive this one."
    )
    assert site.url == "https://example.com/" and site.name == "Example"
    assert len(site.collect_events()) == 1  # Registered only


@pytest.mark.parametrize("name", ["domain", "status", "claims", "account_id", "colour"])
def test_fields_that_are_not_details_are_refused_naming_the_field(name: str):
    site = new_site()
    with pytest.raises(ValidationFailed) as refused:
        site.update({name: "x"})
    assert refused.value.field == name
    assert len(site.collect_events()) == 1


def test_details_change_and_an_unchanged_value_records_nothing():
    site = new_site()
    site.update({"name": "New", "description": None, "keywords": ["b"], "category": "retail"})
    assert (site.name, site.description, site.keywords) == ("New", None, ["b"])
    updated = site.collect_events()[-1]
    assert updated.changes == {"name": "New", "description": None, "keywords": ["b"]}
    site.update({"name": "New"})
    assert site.collect_events() == []


def test_the_url_rule_comes_before_the_archived_one():
    site = new_site()
    site.archive()
    with pytest.raises(ValidationFailed) as refused:
        site.update({"url": "https://other.example.com/"})
    assert refused.value.field == "url"
    with pytest.raises(ValidationFailed) as archived:
        site.update({"name": "New"})
    assert archived.value.field == "site_id"
