"""Delivery-example use cases (`backlynk examples add|list|remove`): the operator chooses
verified backlinks for the public delivery-examples page (`domain.showcase`)."""

from __future__ import annotations

from uuid import UUID

from domain.backlink import Backlink
from domain.errors import NotFound
from domain.ports import ShowcasePorts
from domain.showcase import (
    ExampleChoice,
    ExampleFacts,
    NotADelivery,
    NotVerified,
    UnknownBacklink,
    check_note,
)
from domain.site import Site


async def add_example(
    ports: ShowcasePorts, backlink_id: UUID, note: str | None, added_by: str
) -> ExampleChoice:
    """Choose a live backlink as a delivery example. Refused: an unknown backlink, one no
    directory gave, one that is not live (lost: its checks found no link), one shown
    already, a note naming a directory or the customer."""
    try:
        backlink = await ports.repository.get(backlink_id, Backlink)
    except NotFound:
        raise UnknownBacklink(f"no backlink has the id {backlink_id.hex}") from None
    if backlink.directory_id is None:
        raise NotADelivery(
            "no directory gave this backlink (the customer added it for monitoring): only a "
            "listing we delivered is a delivery example"
        )
    if not backlink.is_live:
        raise NotVerified(
            "the backlink is lost (its last check found no link): only a verified, live "
            "listing is a delivery example"
        )
    site = await ports.repository.get(backlink.site_id, Site)
    clean = check_note(note, await ports.catalogue.every(), site.name, site.domain)
    return await ports.choices.add(backlink.id, clean, added_by, ports.clock.now())


async def remove_example(ports: ShowcasePorts, example_id: UUID, removed_by: str) -> ExampleChoice:
    """Take an example off the public page (the choice stays, marked removed, for the
    audit)."""
    return await ports.choices.remove(example_id, removed_by, ports.clock.now())


async def chosen_examples(ports: ShowcasePorts) -> list[ExampleFacts]:
    return await ports.choices.facts()
