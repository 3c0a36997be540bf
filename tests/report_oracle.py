"""An independent oracle for the reports: each report's figures computed from the JSON
lines of `backlynk events export` (`adapters.event_export`) alone, in plain Python,
without the projections' code or tables.

Plain function API — export lines in, expected report rows out:

    lines = [...]  # the export's lines: str, bytes or already-decoded dicts, in order
    usage_report(lines, account_id, first="2026-01", last="2026-12", group_by="month")
    directories_report(lines, account_id=None, site_id=None)   # None: every account
    backlinks_report(lines, account_id, site_id, "day" | "week", since, until)

Ids may be given as `uuid.UUID` or str; `since` and `until` are aware datetimes; months
are "YYYY-MM" (both ends included). Each function returns a list of dicts whose keys
and values are those of the projection's rows (`msgspec.structs.asdict` of
`projections.report_usage.UsageRow`, `projections.report_directories.DirectoryStats`,
`projections.report_backlinks.LinkBucket`): ids as `uuid.UUID`, instants as aware UTC
datetimes, in the report's order. So a test compares
`[asdict(r) for r in report] == oracle(...)`.

The definitions (as the README's reports section states them):

* usage — per job, the units its quota events reserved, consumed (`used`) and released,
  summed per month (the job's quota period, every month of [first, last] listed, zeros
  included) or per site (sites with a job in the range, by site id);
* directories — a task counts as `submitted` once it was submitted, `verified` once its
  listing was, `failed` by its error code once it failed for good; acceptance rate
  verified ÷ (verified + failed); the median, over verified tasks, of verified − submitted
  (the mean of the middle two for an even count); per backlink the latest link type and
  whether it was ever lost (dofollow share, lost rate); a link without a directory counts
  nowhere; every directory a task or a link of the scope names is listed, by id;
* backlinks — a change per discovery, loss and recovery (a loss or recovery of a link
  never discovered is left out); a link added by hand (`Backlink.Added`) is discovered at
  its first check whose status is `live` (pending, unreachable or lost before that, it
  counts nowhere); an unreachable link stays live until lost; per UTC day or ISO week
  (Monday) from the one holding `since` to the one holding `until`: live at the bucket's
  end, and the changes within.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

Line = str | bytes | dict


def _events(lines: Iterable[Line]) -> list[dict[str, Any]]:
    """The export's events, with `type` ("Job.Created") and `at` (an aware datetime)."""
    out = []
    for line in lines:
        event = line if isinstance(line, dict) else json.loads(line)
        event = dict(event)
        event["type"] = event["topic"].partition(":")[2]
        event["at"] = _instant(event["timestamp"])
        event["id"] = UUID(event["aggregate_id"])
        out.append(event)
    return sorted(out, key=lambda e: e["position"])


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _uuid(value: Any) -> UUID | None:
    return None if value is None else value if isinstance(value, UUID) else UUID(str(value))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- usage ------------------------------------------------------------------------------


def _months(first: str, last: str) -> list[str]:
    out, (year, month) = [], map(int, first.split("-"))
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def usage_report(
    lines: Iterable[Line], account_id: Any, first: str, last: str, group_by: str
) -> list[dict[str, Any]]:
    account = _uuid(account_id)
    jobs: dict[UUID, dict[str, Any]] = {}
    units: dict[UUID, dict[str, int]] = defaultdict(lambda: dict(reserved=0, used=0, released=0))
    counter = {"Quota.Reserved": "reserved", "Quota.Consumed": "used", "Quota.Released": "released"}
    for e in _events(lines):
        s = e["state"]
        if e["type"] == "Job.Created":
            jobs[e["id"]] = {
                "account": _uuid(s["account_id"]),
                "site": _uuid(s["site_id"]),
                "period": s["period"],
            }
        elif e["type"] in counter:
            units[_uuid(s["job_id"])][counter[e["type"]]] += s["units"]
    mine = {
        job: info
        for job, info in jobs.items()
        if info["account"] == account and first <= info["period"] <= last
    }
    groups: dict[Any, dict[str, int]] = {}
    keyed = "site" if group_by == "site" else "period"
    if keyed == "period":
        groups = {m: dict(reserved=0, used=0, released=0) for m in _months(first, last)}
    for job, info in mine.items():
        group = groups.setdefault(info[keyed], dict(reserved=0, used=0, released=0))
        for name in group:
            group[name] += units[job][name]
    return [
        {
            "period": key if keyed == "period" else None,
            "site_id": key if keyed == "site" else None,
            **figures,
        }
        for key, figures in sorted(groups.items())
    ]


# -- directories --------------------------------------------------------------------------


def directories_report(
    lines: Iterable[Line], account_id: Any = None, site_id: Any = None
) -> list[dict[str, Any]]:
    account, site = _uuid(account_id), _uuid(site_id)
    tasks: dict[tuple[UUID, int], dict[str, Any]] = {}
    links: dict[UUID, dict[str, Any]] = {}
    for e in _events(lines):
        s, kind = e["state"], e["type"]
        if kind == "Job.Created":
            for t in s["tasks"]:
                tasks[(e["id"], t["directory_id"])] = {
                    "account": _uuid(s["account_id"]),
                    "site": _uuid(s["site_id"]),
                    "submitted": None,
                    "verified": None,
                    "failed": None,
                }
        elif kind in ("Job.TaskSubmitted", "Job.TaskVerified", "Job.TaskFailed"):
            task = tasks.get((e["id"], s["directory_id"]))
            if task is None:
                continue
            if kind == "Job.TaskSubmitted":
                task["submitted"] = e["at"]
            elif kind == "Job.TaskVerified":
                task["verified"] = e["at"]
            else:
                task["failed"] = s["code"]
        elif kind == "Backlink.Discovered":
            links[e["id"]] = {
                "account": _uuid(s["account_id"]),
                "site": _uuid(s["site_id"]),
                "directory": s.get("directory_id"),
                "link_type": (s.get("evidence") or {}).get("link_type"),
                "ever_lost": False,
            }
        elif kind in ("Backlink.Checked", "Backlink.Lost", "Backlink.Recovered"):
            link = links.get(e["id"])
            if link is not None:
                link["link_type"] = (s.get("evidence") or {}).get("link_type")
                link["ever_lost"] = link["ever_lost"] or kind == "Backlink.Lost"

    def in_scope(row: dict[str, Any]) -> bool:
        return (account is None or row["account"] == account) and (
            site is None or row["site"] == site
        )

    per: dict[int, dict[str, Any]] = defaultdict(lambda: {"tasks": [], "links": []})
    for (_, directory), task in tasks.items():
        if in_scope(task):
            per[directory]["tasks"].append(task)
    for link in links.values():
        if in_scope(link) and link["directory"] is not None:
            per[link["directory"]]["links"].append(link)

    out = []
    for directory in sorted(per):
        ts, ls = per[directory]["tasks"], per[directory]["links"]
        verified = sum(t["verified"] is not None for t in ts)
        failed_codes: dict[str, int] = defaultdict(int)
        for t in ts:
            if t["failed"] is not None:
                failed_codes[t["failed"]] += 1
        failed = sum(failed_codes.values())
        micros = [
            (t["verified"] - t["submitted"]) // timedelta(microseconds=1)
            for t in ts
            if t["verified"] is not None and t["submitted"] is not None
        ]
        dofollow = sum(link["link_type"] == "dofollow" for link in ls)
        lost = sum(link["ever_lost"] for link in ls)
        out.append(
            {
                "directory_id": directory,
                "submitted": sum(t["submitted"] is not None for t in ts),
                "verified": verified,
                "failed": failed,
                "failed_by_code": dict(failed_codes),
                "acceptance_rate": _rate(verified, verified + failed),
                "median_seconds_to_verified": (
                    statistics.median(micros) / 1_000_000 if micros else None
                ),
                "backlinks": len(ls),
                "dofollow_share": _rate(dofollow, len(ls)),
                "lost_rate": _rate(lost, len(ls)),
            }
        )
    return out


# -- backlinks over time --------------------------------------------------------------------


def _bucket(moment: datetime, interval: str) -> datetime:
    day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return day - timedelta(days=day.weekday()) if interval == "week" else day


def backlinks_report(
    lines: Iterable[Line],
    account_id: Any,
    site_id: Any,
    interval: str,
    since: datetime,
    until: datetime,
) -> list[dict[str, Any]]:
    account, site = _uuid(account_id), _uuid(site_id)
    owners: dict[UUID, tuple[UUID | None, UUID | None]] = {}
    pending: dict[UUID, tuple[UUID | None, UUID | None]] = {}  # added by hand, not found yet
    changes: list[tuple[datetime, str]] = []
    names = {
        "Backlink.Discovered": "discovered",
        "Backlink.Lost": "lost",
        "Backlink.Recovered": "recovered",
    }
    for e in _events(lines):
        s, kind = e["state"], e["type"]
        if kind == "Backlink.Added":
            pending.setdefault(e["id"], (_uuid(s["account_id"]), _uuid(s["site_id"])))
            continue
        change = names.get(kind)
        if (
            kind in ("Backlink.Checked", "Backlink.Recovered")
            and s["status"] == "live"
            and e["id"] in pending
        ):
            # a hand-added link is live from its first check that finds it
            owners.setdefault(e["id"], pending[e["id"]])
            owner, change = pending.pop(e["id"]), "discovered"
        elif change is None:
            continue
        elif kind == "Backlink.Discovered":
            owners.setdefault(e["id"], (_uuid(s["account_id"]), _uuid(s["site_id"])))
            owner = (_uuid(s["account_id"]), _uuid(s["site_id"]))
        elif (owner := owners.get(e["id"])) is None:
            continue
        if owner[0] == account and (site is None or owner[1] == site):
            changes.append((e["at"], change))
    step = timedelta(days=7 if interval == "week" else 1)
    first, last = _bucket(since.astimezone(UTC), interval), _bucket(until.astimezone(UTC), interval)
    delta = {"discovered": 1, "lost": -1, "recovered": 1}
    live = sum(delta[c] for at, c in changes if at < first)
    out = []
    start = first
    while start <= last:
        made = {
            c: sum(1 for at, k in changes if k == c and start <= at < start + step) for c in delta
        }
        live += made["discovered"] - made["lost"] + made["recovered"]
        out.append({"start": start, "live": live, **made})
        start += step
    return out
