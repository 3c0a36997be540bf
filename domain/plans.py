"""The plans: the one table of prices and limits (API.md, Plans).

Every limit the service enforces (API access, API keys, sites, monthly submissions, the
directory DR cap, the authenticated checker's rate, monitored backlinks and their
re-checks) is read from here, so changing a plan is a one-line change.
"""

from __future__ import annotations

import msgspec

from domain.errors import ValidationFailed


class Plan(msgspec.Struct, frozen=True):
    code: str
    name: str
    price_usd: int
    #: submissions per calendar month (UTC)
    monthly_submissions: int
    #: highest directory domain rating the plan may submit to; None = no cap (Agency
    #: alone); Free's 0 is a cap like any other, and Free submits nothing anyway
    dr_cap: int | None
    max_sites: int
    max_api_keys: int
    #: False: only auth, users/me and the public endpoints
    api_access: bool
    #: the authenticated backlink checker, per account: checks and URLs per minute
    checks_per_minute: int = 0
    check_urls_per_minute: int = 0
    #: backlinks monitored at once (found by jobs or added with `POST /backlinks`); adding
    #: one is refused at the limit, a discovered one never is (it was paid for)
    monitored_links: int = 0
    #: `POST /backlinks/{id}/recheck` per account and hour
    rechecks_per_hour: int = 0


FREE = Plan("free", "Free", 0, 0, 0, 1, 0, False)
PRO = Plan(
    "pro", "Pro", 199, 150, 50, 10, 5, True, 60, 600, monitored_links=500, rechecks_per_hour=30
)
AGENCY = Plan(
    "agency",
    "Agency",
    399,
    600,
    None,
    100,
    25,
    True,
    120,
    1500,
    monitored_links=5000,
    rechecks_per_hour=120,
)

PLANS: dict[str, Plan] = {p.code: p for p in (FREE, PRO, AGENCY)}

#: the plan of a self-service registration
DEFAULT_PLAN = FREE


class UnknownPlan(ValidationFailed):
    code = "unknown_plan"


def get_plan(code: str) -> Plan:
    try:
        return PLANS[code]
    except KeyError:
        known = ", ".join(PLANS)
        raise UnknownPlan(f"Unknown plan {code!r}; choose one of {known}.", field="plan") from None
