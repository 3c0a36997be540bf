"""Use cases of monitoring on the web side: add a link the customer already has to
monitoring (its first check is queued by the dispatcher from `Backlink.Added`), read one,
and ask for a re-check now (`Backlink.RecheckRequested`, queued by the dispatcher, at
most once per window: `domain.cron_windows`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain import cron_windows
from domain.backlink import (
    Backlink,
    BacklinkExists,
    MonitorLimitReached,
    added_id,
    backlink_not_found,
)
from domain.backlink_evidence import comparable_url
from domain.errors import ConcurrencyConflict, NotFound, ValidationFailed
from domain.ports import MonitorPorts, PlanLimits, Repository
from domain.services.check_backlinks import check_url
from domain.services.retry import on_conflict
from domain.services.sites import get_site
from domain.unique_key import MONITOR_SLOT, UniqueKey


async def own_backlink(repo: Repository, account_id: UUID, backlink_id: UUID) -> Backlink:
    """The account's backlink; another account's is `NotFound`, like one that never was."""
    try:
        backlink = await repo.get(backlink_id, Backlink)
    except NotFound:
        raise backlink_not_found() from None
    backlink.check_belongs_to(account_id)
    return backlink


def page_url_of(url: str) -> str:
    """The page as monitored: an absolute http(s) URL, scheme and host lower-case, default
    port and fragment dropped (so that the same page added twice is one backlink)."""
    return comparable_url(check_url(url, "source_url"))


async def add_backlink(
    ports: MonitorPorts, *, account_id: UUID, plan: PlanLimits, site_id: UUID, source_url: str
) -> tuple[Backlink, int]:
    """Monitor a link the customer already has; its first check is queued by the
    dispatcher (`Backlink.Added`). Returns the backlink and the notification id written.

    The plan's limit counts every backlink of the account. Adds racing at the limit each
    claim a numbered slot (`UniqueKey` `monitor_slot`, saved with the backlink): a slot is
    claimed once, so they never pass the limit together."""
    repo = ports.repository
    page = page_url_of(source_url)
    try:
        site = await get_site(repo, account_id, site_id)
    except NotFound as unknown:
        raise NotFound(unknown.details, field="site_id") from None
    site.check_is_active()
    backlink_id = added_id(site.id, page)
    if await ports.links.on_page(site.id, page) is not None or await _exists(repo, backlink_id):
        raise _exists_error(page)
    count = await ports.links.count(account_id)
    _check_room(count, plan.monitored_links)
    await _check_reachable(ports, page)
    for slot in range(count, plan.monitored_links):
        backlink = Backlink.add(account_id, site.id, page)
        claim = UniqueKey.claim(MONITOR_SLOT, f"{account_id.hex}:{slot}", backlink.id)
        try:
            return backlink, await repo.save(backlink, claim)
        except ConcurrencyConflict:
            if await _exists(repo, backlink_id):
                raise _exists_error(page) from None
            # another add took this slot: try the next one
    _check_room(plan.monitored_links, plan.monitored_links)
    raise AssertionError("unreachable")


async def _check_reachable(ports: MonitorPorts, page: str) -> None:
    """The SSRF guard, last (it resolves the host): a page the fetcher would refuse."""
    try:
        await ports.urls.check(page)
    except ValidationFailed as refused:
        raise ValidationFailed(refused.details, field="source_url", code=refused.code) from None


def _check_room(count: int, limit: int) -> None:
    if count >= limit:
        raise MonitorLimitReached(
            f"Your plan monitors at most {limit} backlinks; upgrade to monitor more.",
            field="source_url",
        )


def _exists_error(page: str) -> BacklinkExists:
    return BacklinkExists(f"{page[:200]} is already monitored for this site.", field="source_url")


async def _exists(repo: Repository, backlink_id: UUID) -> bool:
    try:
        await repo.get(backlink_id, Backlink)
    except NotFound:
        return False
    return True


@dataclass(frozen=True)
class RecheckRequest:
    backlink: Backlink
    #: False: a re-check was asked for in this window already (this one changes nothing)
    queued: bool
    #: when the next request may queue another re-check
    window_ends_at: datetime


async def request_recheck(
    ports: MonitorPorts, account_id: UUID, backlink_id: UUID
) -> RecheckRequest:
    """Ask for a re-check of the account's backlink now, once per window."""
    now = ports.clock.now()
    window = cron_windows.recheck_now_window(now)

    async def attempt() -> RecheckRequest:
        backlink = await own_backlink(ports.repository, account_id, backlink_id)
        queued = backlink.request_recheck(window)
        await ports.repository.save(backlink)
        ends = cron_windows.window_end(now, cron_windows.RECHECK_NOW_EVERY)
        return RecheckRequest(backlink, queued, ends)

    return await on_conflict(attempt)
