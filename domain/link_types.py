"""Link types: what a link is worth to a crawler (API.md, "Backlink check"). One
definition for the checker's verdict, the backlinks filter and the catalogue."""

from __future__ import annotations

from enum import StrEnum


class LinkType(StrEnum):
    DOFOLLOW = "dofollow"
    NOFOLLOW = "nofollow"
    UGC = "ugc"
    SPONSORED = "sponsored"


class PromisedLinkType(StrEnum):
    """What a directory's catalogue entry may promise: a followed link or not."""

    DOFOLLOW = LinkType.DOFOLLOW.value
    NOFOLLOW = LinkType.NOFOLLOW.value


LINK_TYPES = tuple(LinkType)
#: rel tokens that tell a crawler not to follow (or not to credit) a link
NOT_FOLLOWED = frozenset({LinkType.NOFOLLOW, LinkType.UGC, LinkType.SPONSORED})


def link_type_of(rel: tuple[str, ...], page_nofollow: bool) -> LinkType:
    """A link's type from its rel tokens: sponsored, then ugc, win over nofollow (of the
    link or of the whole page); otherwise dofollow."""
    for kind in (LinkType.SPONSORED, LinkType.UGC):
        if kind in rel:
            return kind
    if LinkType.NOFOLLOW in rel or page_nofollow:
        return LinkType.NOFOLLOW
    return LinkType.DOFOLLOW
