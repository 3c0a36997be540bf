"""Report read model: how each directory performs — submitted, verified, failed by error
code, acceptance rate, median time from submission to a verified listing, dofollow share
and lost rate — for one account (`GET /api/v1/reports/directories`), or across every
account (`backlynk reports directories`, and the public quality tiers, which show the
figures in aggregate and never a directory's name).

Three tables, kept by the `reports` projection (`projections.reports`):

* `report_tasks`: one row per task of a job (job, directory), with when it was submitted,
  when its listing was verified, and the error code it failed with;
* `report_links`: one row per discovered backlink, with its directory (NULL for a link
  that no directory gave: those count in no directory's figures), its latest link type
  and whether it was ever lost;
* `report_directory_totals`: one row per directory that an outcome or a backlink ever
  named, across every account: verified, failed, the median time to a verified listing,
  backlinks and dofollow backlinks — the figures of `directory_stats` with no scope, kept
  as they change (a batch recomputes, from the two tables above, the rows of the
  directories whose figures its events changed: a task verified or failed, a verified
  one's submission time, a new backlink or a new link type; a re-check that finds the
  link as it was changes none), so the public quality tiers read them instead of
  aggregating every account's tasks (`directory_performances`). A recomputation reads
  that directory's tasks and links (indexed by directory): its cost grows with them.

Definitions (`directory_stats`; `tests/report_oracle.py` computes the same from the event
log alone):

* `submitted`: tasks that reached `submitted` (whatever came after); `verified`: tasks
  whose listing was verified; `failed`: tasks that failed for good (a submission refused,
  retries exhausted, or `listing_not_found`), `failed_by_code` the same by error code.
  Skipped, canceled and still-pending tasks count in none of them.
* `acceptance_rate`: verified ÷ (verified + failed), the tasks that reached an outcome;
  null before any did.
* `median_seconds_to_verified`: the median, over verified tasks, of the time from the
  submission to the verified listing (the mean of the two middle ones for an even count),
  in seconds with microsecond precision; null before any verification.
* `dofollow_share`: backlinks whose latest link type is `dofollow` ÷ backlinks;
  `lost_rate`: backlinks lost at least once ÷ backlinks; both null without a backlink.
  Rates are rounded to 4 decimal places.

Only the events named in `EVENTS` are read: other Backlink or Job events (monitoring may
add some) leave these tables as they are.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.backlink import Backlink
from domain.job import Job
from domain.public_figures import DirectoryPerformance
from projections.batch import Rows

_LINK_EVENTS = (Backlink.Discovered, Backlink.Checked, Backlink.Lost, Backlink.Recovered)
EVENTS = (Job.Created, Job.TaskSubmitted, Job.TaskVerified, Job.TaskFailed, *_LINK_EVENTS)

TABLES = ("report_tasks", "report_links", "report_directory_totals")

DDL = (
    """CREATE TABLE IF NOT EXISTS report_tasks (
        job_id uuid NOT NULL,
        directory_id integer NOT NULL,
        account_id uuid NOT NULL,
        site_id uuid NOT NULL,
        submitted_at timestamptz,
        verified_at timestamptz,
        failed_code text,
        PRIMARY KEY (job_id, directory_id))""",
    "CREATE INDEX IF NOT EXISTS report_tasks_account ON report_tasks (account_id, site_id)",
    """CREATE TABLE IF NOT EXISTS report_links (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL,
        site_id uuid NOT NULL,
        directory_id integer,
        link_type text,
        ever_lost boolean NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS report_links_account ON report_links (account_id, site_id)",
    # the totals recompute a directory's rows from these
    "CREATE INDEX IF NOT EXISTS report_tasks_directory ON report_tasks (directory_id)",
    "CREATE INDEX IF NOT EXISTS report_links_directory ON report_links (directory_id)",
    """CREATE TABLE IF NOT EXISTS report_directory_totals (
        directory_id integer PRIMARY KEY,
        verified bigint NOT NULL,
        failed bigint NOT NULL,
        median_us double precision,
        backlinks bigint NOT NULL,
        dofollow bigint NOT NULL)""",
)

#: the median time from submission to verified listing of a group of tasks, in whole
#: microseconds: the mean of two middle integers is exact in a double
_MEDIAN_US = """percentile_cont(0.5) WITHIN GROUP (
    ORDER BY (extract(epoch FROM verified_at - submitted_at) * 1000000)::bigint)
    FILTER (WHERE verified_at IS NOT NULL AND submitted_at IS NOT NULL)"""


def _totals(directories: str, on_conflict: str) -> str:
    """The statement that writes the totals of the `directories` (a FROM item naming
    their ids as `ids(id)`) from their tasks and links, every account's (the figures of
    `_STATS` with no scope)."""
    return f"""
INSERT INTO report_directory_totals AS d
    (directory_id, verified, failed, median_us, backlinks, dofollow)
SELECT id, t.verified, t.failed, t.median_us, l.backlinks, l.dofollow
FROM {directories}
CROSS JOIN LATERAL (
    SELECT count(verified_at) AS verified, count(failed_code) AS failed,
           {_MEDIAN_US} AS median_us
    FROM report_tasks WHERE directory_id = ids.id) AS t
CROSS JOIN LATERAL (
    SELECT count(*) AS backlinks, count(*) FILTER (WHERE link_type = 'dofollow') AS dofollow
    FROM report_links WHERE directory_id = ids.id) AS l
ON CONFLICT (directory_id) {on_conflict}"""


#: the totals of the directories `$1` names, as they are now
_TOTALS = _totals(
    "unnest($1::integer[]) AS ids(id)",
    """DO UPDATE SET verified = EXCLUDED.verified,
    failed = EXCLUDED.failed, median_us = EXCLUDED.median_us,
    backlinks = EXCLUDED.backlinks, dofollow = EXCLUDED.dofollow""",
)

#: the rows the projection would have made, for a database whose reports were projected
#: before the totals existed (`backlynk migrate`; nothing to do on one kept up to date):
#: every directory with a task verified or failed, or a backlink — those are the events
#: that give a directory its row
DDL = (
    *DDL,
    _totals(
        """(SELECT directory_id FROM report_tasks
            WHERE verified_at IS NOT NULL OR failed_code IS NOT NULL
            UNION SELECT directory_id FROM report_links WHERE directory_id IS NOT NULL)
           AS ids(id)""",
        "DO NOTHING",
    ),
)


async def _recount(conn: asyncpg.Connection, directory_ids: set[int]) -> None:
    """Recompute the totals of these directories (after their tasks and links changed)."""
    if directory_ids:
        await conn.execute(_TOTALS, sorted(directory_ids))


#: the task column each task event sets to its own value
_TASK_COLUMN = {
    Job.TaskSubmitted: "submitted_at",
    Job.TaskVerified: "verified_at",
    Job.TaskFailed: "failed_code",
}


def _task_value(event: Any) -> Any:
    return event.code if isinstance(event, Job.TaskFailed) else event.timestamp


def _link_type(event: Any) -> str | None:
    """The link type an event's evidence shows (a backlink may come without evidence:
    monitoring lets one be added by its page alone, checked later)."""
    evidence = getattr(event, "evidence", None)
    return evidence.link_type if evidence is not None else None


def _link(event: Backlink.Discovered) -> dict[str, Any]:
    return {
        "id": event.originator_id,
        "account_id": event.account_id,
        "site_id": event.site_id,
        # a link added by hand has no directory (and no job)
        "directory_id": getattr(event, "directory_id", None),
        "link_type": _link_type(event),
        "ever_lost": False,
    }


async def apply(conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
    if isinstance(event, Job.Created):
        await conn.executemany(
            "INSERT INTO report_tasks (job_id, directory_id, account_id, site_id) "
            "VALUES ($1, $2, $3, $4)",
            [
                (event.originator_id, t.directory_id, event.account_id, event.site_id)
                for t in event.tasks
            ],
        )
    elif type(event) in _TASK_COLUMN:
        task = await conn.fetchrow(
            f"UPDATE report_tasks SET {_TASK_COLUMN[type(event)]} = $3 "
            "WHERE job_id = $1 AND directory_id = $2 RETURNING verified_at",
            event.originator_id,
            event.directory_id,
            _task_value(event),
        )
        await _recount(conn, _task_directory(event, task))
    elif isinstance(event, Backlink.Discovered):
        row = _link(event)
        await conn.execute(
            f"INSERT INTO report_links ({', '.join(row)}) VALUES ($1, $2, $3, $4, $5, $6)",
            *row.values(),
        )
        await _recount(conn, _link_directory(row, None))
    else:  # Checked, Lost, Recovered: the latest link type; a loss is remembered
        link = await conn.fetchrow(
            """UPDATE report_links l SET link_type = $2, ever_lost = l.ever_lost OR $3
               FROM (SELECT id, link_type FROM report_links WHERE id = $1) AS old
               WHERE l.id = old.id RETURNING l.directory_id, l.link_type,
                     old.link_type AS old_link_type""",
            event.originator_id,
            _link_type(event),
            isinstance(event, Backlink.Lost),
        )
        await _recount(conn, _link_directory(link, link and link["old_link_type"]))


# Which directory's totals an event changes: the totals count verified and failed tasks,
# the verified ones' times, backlinks and their latest link types; the most frequent
# events (a re-check that finds the link as it was, a submission before its verification)
# change none of them and recompute nothing.


def _task_directory(event: Any, task: Any) -> set[int]:
    """A task event's directory, unless the task is unknown or the event is a submission
    of a task not verified (its time counts only once verified)."""
    if task is None or (isinstance(event, Job.TaskSubmitted) and task["verified_at"] is None):
        return set()
    return {event.directory_id}


def _link_directory(link: Any, old_link_type: str | None) -> set[int]:
    """A link's directory, unless its link type was there and is the same after the event
    (a new link has none before); none for a link no directory gave, or an unknown one."""
    if link is None or link["directory_id"] is None:
        return set()
    if old_link_type is not None and old_link_type == link["link_type"]:
        return set()
    return {link["directory_id"]}


async def apply_batch(conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
    """The same as `apply` for each event in turn, one write per table."""
    tasks, links = Rows("report_tasks", ("job_id", "directory_id")), Rows("report_links", ("id",))
    task_keys: set[tuple] = set()
    for event, _ in events:
        if isinstance(event, Job.Created):
            task_keys |= {(event.originator_id, t.directory_id) for t in event.tasks}
        elif type(event) in _TASK_COLUMN:
            task_keys.add((event.originator_id, event.directory_id))
    await tasks.load(conn, task_keys)
    await links.load(conn, {(e.originator_id,) for e, _ in events if isinstance(e, _LINK_EVENTS)})
    touched: set[int] = set()
    for event, _ in events:
        if isinstance(event, Job.Created):
            for t in event.tasks:
                tasks.insert(
                    {
                        "job_id": event.originator_id,
                        "directory_id": t.directory_id,
                        "account_id": event.account_id,
                        "site_id": event.site_id,
                    }
                )
        elif type(event) in _TASK_COLUMN:
            key = (event.originator_id, event.directory_id)
            task = tasks.update(key, **{_TASK_COLUMN[type(event)]: _task_value(event)})
            touched |= _task_directory(event, task)
        elif isinstance(event, Backlink.Discovered):
            links.insert(_link(event))
            touched |= _link_directory(_link(event), None)
        else:
            key = (event.originator_id,)
            row = links.get(key)
            old_link_type = row and row["link_type"]
            lost = isinstance(event, Backlink.Lost)
            row = links.update(
                key,
                link_type=_link_type(event),
                ever_lost=bool(row and row["ever_lost"]) or lost,
            )
            touched |= _link_directory(row, old_link_type)
    await tasks.write(conn)
    await links.write(conn)
    await _recount(conn, touched)


class DirectoryStats(msgspec.Struct, frozen=True):
    """One directory's figures over a scope (an account, a site, or every account)."""

    directory_id: int
    submitted: int
    verified: int
    failed: int
    failed_by_code: dict[str, int]
    acceptance_rate: float | None
    median_seconds_to_verified: float | None
    backlinks: int
    dofollow_share: float | None
    lost_rate: float | None


def ratio(part: int, whole: int) -> float | None:
    """part ÷ whole rounded to 4 places; None when there is no whole."""
    return round(part / whole, 4) if whole else None


_STATS = f"""
WITH tasks AS (
    SELECT directory_id,
           count(submitted_at) AS submitted,
           count(verified_at) AS verified,
           count(failed_code) AS failed,
           {_MEDIAN_US} AS median_us
    FROM report_tasks
    WHERE ($1::uuid IS NULL OR account_id = $1) AND ($2::uuid IS NULL OR site_id = $2)
    GROUP BY directory_id),
codes AS (
    SELECT directory_id, jsonb_object_agg(failed_code, n)::text AS failed_by_code
    FROM (SELECT directory_id, failed_code, count(*) AS n FROM report_tasks
          WHERE failed_code IS NOT NULL
            AND ($1::uuid IS NULL OR account_id = $1) AND ($2::uuid IS NULL OR site_id = $2)
          GROUP BY directory_id, failed_code) AS c
    GROUP BY directory_id),
links AS (
    SELECT directory_id,
           count(*) AS backlinks,
           count(*) FILTER (WHERE link_type = 'dofollow') AS dofollow,
           count(*) FILTER (WHERE ever_lost) AS lost
    FROM report_links
    WHERE directory_id IS NOT NULL
      AND ($1::uuid IS NULL OR account_id = $1) AND ($2::uuid IS NULL OR site_id = $2)
    GROUP BY directory_id)
SELECT directory_id,
       coalesce(t.submitted, 0) AS submitted, coalesce(t.verified, 0) AS verified,
       coalesce(t.failed, 0) AS failed, c.failed_by_code, t.median_us,
       coalesce(l.backlinks, 0) AS backlinks, coalesce(l.dofollow, 0) AS dofollow,
       coalesce(l.lost, 0) AS lost
FROM tasks t FULL JOIN links l USING (directory_id) LEFT JOIN codes c USING (directory_id)
ORDER BY directory_id
"""


async def directory_stats(
    conn: Any, *, account_id: UUID | None = None, site_id: UUID | None = None
) -> list[DirectoryStats]:
    """Every directory that a task or a backlink of the scope names, by directory id:
    one account's (`account_id`), one site's (`site_id`, with its account), or every
    account's (neither). The one query behind the API's report, the operator's CLI report
    and the public quality tiers; see the module docstring for each figure."""
    out = []
    for r in await conn.fetch(_STATS, account_id, site_id):
        decided = r["verified"] + r["failed"]
        median = r["median_us"]
        out.append(
            DirectoryStats(
                directory_id=r["directory_id"],
                submitted=r["submitted"],
                verified=r["verified"],
                failed=r["failed"],
                failed_by_code=msgspec.json.decode(r["failed_by_code"] or "{}"),
                acceptance_rate=ratio(r["verified"], decided),
                median_seconds_to_verified=None if median is None else median / 1_000_000,
                backlinks=r["backlinks"],
                dofollow_share=ratio(r["dofollow"], r["backlinks"]),
                lost_rate=ratio(r["lost"], r["backlinks"]),
            )
        )
    return out


async def directory_performances(conn: Any) -> list[DirectoryPerformance]:
    """Every catalogue directory with an outcome, across every account, with its place in
    the catalogue (the input of the public quality tiers): precomputed rows of
    `report_directory_totals`, the same figures as `directory_stats` with no scope."""
    rows = await conn.fetch(
        """SELECT d.category, d.domain_rating, t.verified, t.failed, t.median_us,
                  t.backlinks, t.dofollow
           FROM report_directory_totals t JOIN directories d ON d.id = t.directory_id
           WHERE t.verified + t.failed > 0 ORDER BY t.directory_id"""
    )
    return [
        DirectoryPerformance(
            category=r["category"],
            domain_rating=r["domain_rating"],
            verified=r["verified"],
            failed=r["failed"],
            median_seconds_to_verified=None if r["median_us"] is None else r["median_us"] / 1e6,
            backlinks=r["backlinks"],
            dofollow_share=ratio(r["dofollow"], r["backlinks"]),
        )
        for r in rows
    ]
