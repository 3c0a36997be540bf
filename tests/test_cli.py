"""The operator commands refuse bad input with one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys


def backlynk(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backlynk_cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_an_unreachable_database_is_one_line_and_exit_1():
    done = backlynk("migrate", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nothing")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("backlynk: cannot reach a service")
    assert "Traceback" not in done.stderr


def test_an_unknown_projection_is_refused(settings):
    done = backlynk(
        "projections",
        "rebuild",
        "nope",
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
    )
    assert done.returncode == 2
    assert "unknown projection 'nope'" in done.stderr and "jobs" in done.stderr


def test_rebuild_replays_every_read_model(settings, infra):
    done = backlynk(
        "projections",
        "rebuild",
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        BACKLYNK_REDIS_NAMESPACE=settings.redis_namespace,
    )
    assert done.returncode == 0, done.stderr
    assert "rebuilt sites" in done.stderr and "rebuilt backlinks" in done.stderr


def test_nul_characters_are_refused_before_they_reach_postgres(settings, tmp_path):
    """Postgres text cannot hold NUL; an event carrying one would stall a read model."""
    import pytest

    from domain.account import clean_name
    from domain.errors import ValidationFailed

    bad = tmp_path / "nul.json"
    bad.write_text('[{"id": 1, "name": "a\\u0000b"}]')
    done = backlynk("directories", "import", str(bad), DATABASE_URL=settings.database_url)
    assert done.returncode == 2 and "NUL" in done.stderr
    with pytest.raises(ValidationFailed):
        clean_name("a\x00b")  # an operator's `users create --name` goes through this


async def test_migrate_forgets_a_merged_projection_and_names_the_one_to_rebuild(settings, infra):
    """A database from before `backlink_checks` became part of the `backlinks` projection
    still has its tracking table: migrate drops it and says to rebuild `backlinks` (its
    two tables were at two positions); once done, it says nothing of it again."""
    await infra.pool.execute(
        "CREATE TABLE public.backlink_checks_tracking (application_name text PRIMARY KEY, "
        "notification_id bigint)"
    )
    done = backlynk("migrate", DATABASE_URL=settings.database_url)
    assert done.returncode == 0, done.stderr
    assert "run `backlynk projections rebuild backlinks`" in done.stderr
    gone = await infra.pool.fetchval("SELECT to_regclass('public.backlink_checks_tracking')")
    assert gone is None
    again = backlynk("migrate", DATABASE_URL=settings.database_url)
    assert again.returncode == 0 and "rebuild" not in again.stderr
