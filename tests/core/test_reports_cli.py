"""`backlynk reports directories`: the operator's report over every account, with the
directories' names, as a table or CSV, read from `READ_DATABASE_URL`; its figures are the
oracle's (`tests/report_oracle.py`) over the event export."""

from __future__ import annotations

import asyncio
import csv
import io
import os

import pytest

from adapters.event_export import export_lines
from domain import ids
from tests import report_oracle as oracle
from tests.core.test_reports_api import FORMULA_NAME, scenario, settled
from tests.report_flows import submit, verify
from tests.test_cli_users import CLI, backlynk

pytestmark = pytest.mark.usefixtures("catalogue")


async def test_operator_report_spans_every_account_with_names(pro, agency, infra, settings):
    await scenario(pro, infra)
    theirs = await agency.job((await agency.add_site())["id"], [1, 2])
    job_id = ids.decode("job", theirs["id"])
    await submit(infra.repository, job_id, 1)
    await verify(infra.repository, job_id, 1, "nofollow")
    await settled(infra)
    async with infra.pool.acquire() as conn:
        lines = [line async for line in export_lines(conn)]
    expected = oracle.directories_report(lines)

    status, out, err = await backlynk(settings, "reports", "directories", "--csv")
    assert status == 0, err
    header, *rows = list(csv.reader(io.StringIO(out)))
    got = [dict(zip(header, r, strict=True)) for r in rows]
    assert [int(r["directory_id"]) for r in got] == [e["directory_id"] for e in expected]
    for row, want in zip(got, expected, strict=True):
        assert int(row["submitted"]) == want["submitted"]
        assert int(row["verified"]) == want["verified"]
        assert int(row["failed"]) == want["failed"]
        assert int(row["backlinks"]) == want["backlinks"]
        assert row["acceptance_rate"] == (
            "" if want["acceptance_rate"] is None else str(want["acceptance_rate"])
        )
        assert row["dofollow_share"] == (
            "" if want["dofollow_share"] is None else str(want["dofollow_share"])
        )
    by_id = {r["directory_id"]: r for r in got}
    assert by_id["1"]["submitted"] == "2" and by_id["1"]["dofollow_share"] == "0.5"
    assert by_id["7"]["directory_name"] == "'" + FORMULA_NAME  # escaped for spreadsheets

    status, table, err = await backlynk(settings, "reports", "directories")
    assert status == 0, err
    first, *lines_out = table.splitlines()
    assert first.split()[:3] == ["directory_name", "directory_id", "submitted"]
    assert any(
        line.startswith("Dir 1 ") or line.split()[:3] == ["Dir", "1", "1"] for line in lines_out
    )
    assert len(lines_out) == len(expected)


async def test_operator_report_reads_the_read_database(pro, infra, settings):
    """With DATABASE_URL naming a database that does not exist, the report still reads
    READ_DATABASE_URL."""
    await scenario(pro, infra)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url.rsplit("/", 1)[0] + "/backlynk_no_such_database",
        "READ_DATABASE_URL": settings.database_url,
        "JWT_SECRET": settings.jwt_secret,
    }
    proc = await asyncio.create_subprocess_exec(
        CLI,
        "reports",
        "directories",
        "--csv",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    raw_out, raw_err = await proc.communicate()
    status, out, err = proc.returncode, raw_out.decode(), raw_err.decode()
    assert status == 0, err
    assert len(out.splitlines()) == 1 + 4


async def test_operator_report_on_an_empty_service(infra, settings):
    status, out, err = await backlynk(settings, "reports", "directories")
    assert status == 0, err
    assert out.split() == [
        "directory_name",
        "directory_id",
        "submitted",
        "verified",
        "failed",
        "failed_by_code",
        "acceptance_rate",
        "median_seconds_to_verified",
        "backlinks",
        "dofollow_share",
        "lost_rate",
    ]
    assert "no directory" in err
