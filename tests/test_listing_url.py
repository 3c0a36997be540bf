"""Where a submission's listing is (ARCHITECTURE.md, "Directory catalogue"): the filled
`listing_url_template` when the catalogue has one; else the listing URL a JSON answer
gives; else, for a form, the page a successful POST redirected to. Pure domain."""

from __future__ import annotations

import msgspec

from domain.directory import Directory, SubmissionAnswer
from domain.site import SiteFacts

SITE = SiteFacts(
    url="https://shop.example.com/?ref=dir",
    domain="shop.example.com",
    name="Example Shop & Co",
    description="",
    contact_email="owner@example.com",
    category="saas",
    keywords="",
)

FORM = Directory(
    id=1,
    name="A form directory",
    homepage_url="https://dir.example/",
    category="general",
    domain_rating=30,
    link_type="dofollow",
    turnaround_days=0,
    status="active",
    method="form",
    submit_url="https://dir.example/submit",
    listing_url_template="https://dir.example/site/{domain}",
)
JSON = msgspec.structs.replace(FORM, method="json", submit_url="https://dir.example/api")
THANKS = "https://dir.example/thanks"


def without_template(d: Directory) -> Directory:
    return msgspec.structs.replace(d, listing_url_template=None)


def test_the_template_wins_over_a_thank_you_redirect():
    answer = SubmissionAnswer(redirected_to=THANKS)
    assert FORM.listing_url(SITE, answer) == "https://dir.example/site/shop.example.com"


def test_the_template_wins_over_a_json_answers_listing_url():
    answer = SubmissionAnswer(listing_url="https://dir.example/l/9", returned_id=9)
    assert JSON.listing_url(SITE, answer) == "https://dir.example/site/shop.example.com"


def test_without_a_template_a_json_answers_listing_url():
    answer = SubmissionAnswer(listing_url="https://dir.example/l/9", redirected_to=THANKS)
    assert without_template(JSON).listing_url(SITE, answer) == "https://dir.example/l/9"
    # a JSON directory's redirect is no listing
    assert without_template(JSON).listing_url(SITE, SubmissionAnswer(redirected_to=THANKS)) is None


def test_without_a_template_a_forms_redirect_target():
    assert without_template(FORM).listing_url(SITE, SubmissionAnswer(redirected_to=THANKS)) == (
        THANKS
    )
    assert without_template(FORM).listing_url(SITE, SubmissionAnswer()) is None


def test_a_template_needing_the_returned_id_falls_back_until_it_has_one():
    by_id = msgspec.structs.replace(JSON, listing_url_template="https://dir.example/l/{id}")
    given = SubmissionAnswer(listing_url="https://dir.example/given")
    assert by_id.listing_url(SITE, given) == "https://dir.example/given"
    assert by_id.listing_url(SITE, SubmissionAnswer(returned_id="a/b c")) == (
        "https://dir.example/l/a%2Fb%20c"  # the directory's id is one path segment
    )
    assert by_id.listing_url(SITE) is None  # the catalogue alone cannot say


def test_every_placeholder_is_filled():
    d = msgspec.structs.replace(
        FORM, listing_url_template="https://dir.example/{slug}/{domain}?u={url}"
    )
    assert d.listing_url(SITE) == (
        "https://dir.example/example-shop-co/shop.example.com"
        "?u=https%3A%2F%2Fshop.example.com%2F%3Fref%3Ddir"
    )


def test_a_listing_url_that_is_not_an_absolute_http_url_is_ignored():
    for bad in ("javascript:alert(1)", "/relative", "https://dir.example/a b", "x" * 3000):
        answer = SubmissionAnswer(listing_url=bad, redirected_to=bad)
        assert without_template(JSON).listing_url(SITE, answer) is None, bad
        assert without_template(FORM).listing_url(SITE, answer) is None, bad
