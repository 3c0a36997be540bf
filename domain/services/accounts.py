"""Account use cases: register, create (operator), change plan, find by email."""

from __future__ import annotations

from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.account import (
    Account,
    EmailTaken,
    check_password_policy,
    clean_name,
    email_key,
    normalise_email,
)
from domain.errors import ConcurrencyConflict, NotFound
from domain.plans import get_plan
from domain.ports import AuthPorts
from domain.services.retry import on_conflict
from domain.unique_key import EMAIL, UniqueKey, unique_key_id


class Changed(msgspec.Struct, frozen=True):
    """An account after a command, and the notification id its events were written at
    (the API waits for the read models to pass it)."""

    account: Account
    notification_id: int


async def new_account(
    ports: AuthPorts, email: str, password: str, name: str | None, plan_code: str
) -> tuple[Account, UniqueKey]:
    """Validate and build an account and its email claim, unsaved: the caller saves them
    (with anything else that must commit together) and maps a conflict to `EmailTaken`."""
    address = normalise_email(email)
    check_password_policy(password)
    display_name = clean_name(name)
    get_plan(plan_code)
    key = email_key(address)
    if await _email_owner(ports, key) is not None:
        # cheap early answer; the atomic claim below is what actually guarantees it
        raise EmailTaken("An account with this email already exists.", field="email")
    password_hash = await ports.passwords.hash(password)
    account = Account(address, display_name, password_hash, plan_code)
    return account, UniqueKey.claim(EMAIL, key, account.id)


async def save_new_account(ports: AuthPorts, *aggregates: Aggregate) -> int:
    """Save a new account with its email claim (and whatever else must commit with it).
    The claim's fixed id makes a second account for the email a version clash."""
    try:
        return await ports.repository.save(*aggregates)
    except ConcurrencyConflict:
        raise EmailTaken("An account with this email already exists.", field="email") from None


async def create_account(
    ports: AuthPorts, email: str, password: str, *, name: str | None = None, plan_code: str
) -> Changed:
    """An operator creates an account on any plan (`backlynk users create`)."""
    account, claim = await new_account(ports, email, password, name, plan_code)
    notification_id = await save_new_account(ports, account, claim)
    return Changed(account, notification_id)


async def find_by_email(ports: AuthPorts, email: str) -> Account:
    owner = await _email_owner(ports, email_key(email))
    if owner is None:
        raise NotFound(f"No account with email {email.strip()!r}.", field="email")
    return await ports.repository.get(owner, Account)


async def set_plan(ports: AuthPorts, email: str, plan_code: str) -> Changed:
    get_plan(plan_code)

    async def attempt() -> Changed:
        account = await find_by_email(ports, email)
        account.change_plan(plan_code)
        return Changed(account, await ports.repository.save(account))

    return await on_conflict(attempt)


async def _email_owner(ports: AuthPorts, key: str) -> UUID | None:
    try:
        claim = await ports.repository.get(unique_key_id(EMAIL, key), UniqueKey)
    except NotFound:
        return None
    return claim.owner_id
