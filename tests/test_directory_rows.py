"""A row of the directory table read back is the `Directory` the import wrote
(`adapters.directories.stored_directory`: decoded without re-checking constraints)."""

from __future__ import annotations

import msgspec

from adapters.demo.sandbox import catalogue
from adapters.directories import _stored_shape, stored_directory
from domain.directory import Directory


def _entries() -> list[Directory]:
    entries = msgspec.convert(catalogue("http://127.0.0.1:9"), list[Directory])
    full = msgspec.structs.replace(
        entries[0],
        id=2**31 - 1,
        field_map={"url": "website"},
        headers={"X-Token": "t"},
        success_pattern="(?i)thanks",
        listing_url_template="https://d.example/{domain}",
    )
    bare = Directory(
        id=1,
        name="n",
        homepage_url="https://d.example/",
        category="c",
        domain_rating=0,
        link_type="nofollow",
        turnaround_days=0,
        status="paused",
        method="json",
        submit_url="https://d.example/api",
    )
    return [*entries, full, msgspec.convert(msgspec.to_builtins(bare), Directory)]


def test_a_stored_row_reads_back_as_the_directory_it_was_written_from() -> None:
    for entry in _entries():
        stored = msgspec.json.encode(entry)  # as `upsert` writes the spec
        read = stored_directory(stored)
        assert read == entry == msgspec.json.decode(stored, type=Directory)
        assert type(read) is Directory and type(read.link_type) is type(entry.link_type)


def test_the_stored_shape_has_the_fields_of_directory_in_order() -> None:
    shape = _stored_shape(Directory)
    ours = msgspec.structs.fields(shape)
    theirs = msgspec.structs.fields(Directory)
    assert [(f.name, f.default) for f in ours] == [(f.name, f.default) for f in theirs]
