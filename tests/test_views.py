"""A read model's view struct is its one shape: the SELECT list comes from its fields,
rows are converted by column name (jsonb read as text and decoded), and rows and answers
are built by keyword from whatever has the fields' names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from api.backlinks import CSV_FIELDS, BacklinkOut, render
from projections.backlinks import BacklinkRow
from projections.jobs import JobRow
from projections.sites import SiteRow
from projections.views import by_name, columns, convert

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_select_list_is_the_fields_with_jsonb_read_as_text():
    assert columns(SiteRow) == (
        "id, url, domain, name, description, category, keywords::text AS keywords, "
        "contact_email, status, created_at, updated_at, seq"
    )
    # rows joined from another table are not columns
    assert "tasks" not in columns(JobRow, skip=("tasks",))


def test_a_record_converts_by_column_name_whatever_its_order():
    site_id = uuid.uuid4()
    record = {
        "seq": 7,
        "keywords": '["a", "b"]',
        "updated_at": NOW,
        "created_at": NOW,
        "status": "active",
        "contact_email": None,
        "category": None,
        "description": None,
        "name": "Example",
        "domain": "example.com",
        "url": "https://example.com/",
        "id": site_id,
    }
    row = convert(record, SiteRow)
    assert row.id == site_id and row.keywords == ["a", "b"] and row.seq == 7


def test_backlink_answer_maps_its_dates_by_name_and_csv_columns_are_the_view():
    row = BacklinkRow(
        id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        directory_id=3,
        job_id=uuid.uuid4(),
        source_url="https://dir.example/x",
        target_url="https://example.com/",
        anchor_text="Example",
        link_type="dofollow",
        rel_attributes=[],
        http_status=200,
        indexable=True,
        status="live",
        first_seen_at=NOW,
        last_checked_at=datetime(2026, 11, 28, tzinfo=UTC),
        lost_at=None,
        seq=1,
    )
    out = render(row)
    assert out.created_at == row.first_seen_at and out.updated_at == row.last_checked_at
    assert out.id.startswith("bl_") and out.site_id.startswith("site_")
    shown = [f.encode_name for f in msgspec.structs.fields(BacklinkOut)]
    assert shown[: len(CSV_FIELDS)] == CSV_FIELDS
    assert shown[len(CSV_FIELDS) :] == ["created_at", "updated_at"]
    assert "seq" not in shown


def test_by_name_takes_given_values_first_then_attributes():
    class Source:
        name = "from source"
        extra = "ignored"

    class Target(msgspec.Struct):
        name: str
        seq: int

    assert by_name(Target, Source(), seq=3) == Target(name="from source", seq=3)
    assert by_name(Target, Source(), name="given", seq=0).name == "given"
