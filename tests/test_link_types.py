"""Link types, defined once (`domain.link_types`). Pure."""

from __future__ import annotations

import msgspec
import pytest

from domain.link_types import LINK_TYPES, LinkType, PromisedLinkType, link_type_of


def test_the_four_types_in_the_documented_order():
    assert LINK_TYPES == ("dofollow", "nofollow", "ugc", "sponsored")
    assert msgspec.json.encode(list(LinkType)) == b'["dofollow","nofollow","ugc","sponsored"]'


@pytest.mark.parametrize(
    ("rel", "page_nofollow", "expected"),
    [
        ((), False, "dofollow"),
        (("noopener",), False, "dofollow"),
        ((), True, "nofollow"),
        (("nofollow",), False, "nofollow"),
        (("nofollow", "ugc"), False, "ugc"),
        (("ugc", "sponsored"), True, "sponsored"),
    ],
)
def test_rel_tokens_and_the_page_decide_the_type(rel, page_nofollow, expected):
    assert link_type_of(rel, page_nofollow) == expected


def test_a_directory_promises_a_followed_link_or_not():
    assert [str(t) for t in PromisedLinkType] == ["dofollow", "nofollow"]
    assert {t.value for t in PromisedLinkType} <= set(LINK_TYPES)
