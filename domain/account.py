"""The Account: who a customer is, how they sign in, their plan and their API keys.

What can happen to an account, and when it is refused:

* `Registered` — with a normalised email, an argon2 password hash and a plan.
* `PlanChanged` — to a plan of `domain.plans` (an operator's command).
* `ApiKeyAdded` — refused with `PlanRequired` on a plan without API access and with
  `ApiKeyLimitReached` when the plan's key count is used up. The account holds its active
  key ids so that the limit holds under concurrency: two key creations that race both
  append to the account, and optimistic concurrency lets only one of them through.
* `ApiKeyRemoved` — when a key is revoked.

Plan-dependent checks run in the command methods, *before* the event is triggered, and
never in the decorated event methods: those run again whenever the account is replayed,
and must not start failing because the plans table changed since.
"""

from __future__ import annotations

import re
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import Conflict, PlanRequired, ValidationFailed
from domain.plans import Plan, get_plan

PASSWORD_MIN = 10
PASSWORD_MAX = 1024
NAME_MAX = 200
EMAIL_MAX = 254  # RFC 5321 path limit
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class EmailTaken(Conflict):
    code = "email_taken"


class ApiKeyLimitReached(ValidationFailed):
    code = "api_key_limit_reached"


def normalise_email(raw: str) -> str:
    """Trim and lower-case the domain (API.md). The local part keeps its case: mailbox
    names may be case-sensitive, so the address we write to is the one we were given.
    Raises `ValidationFailed` (field `email`) for anything that is not a plain address."""
    email = raw.strip()
    local, at, domain = email.rpartition("@")
    invalid = ValidationFailed("Enter an email address like name@example.com.", field="email")
    if not at or not local or not domain or len(email) > EMAIL_MAX:
        raise invalid
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise invalid
    domain = domain.lower().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise invalid from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise invalid
    if labels[-1].isdigit():  # an IP address is not a mail domain here
        raise invalid
    return f"{local}@{domain}"


def email_key(email: str) -> str:
    """What makes two addresses the same account: the normalised address, case-folded.
    `Ann@x.io` and `ann@x.io` are one person to every user we know of, so they may not
    register twice, and either spelling signs in."""
    return normalise_email(email).casefold()


def check_password_policy(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ValidationFailed(
            f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters.", field="password"
        )


def clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = " ".join(name.split())
    if "\x00" in name:  # Postgres text cannot hold it: it would stall the read models
        raise ValidationFailed("A name cannot contain a NUL character.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"Use a name of at most {NAME_MAX} characters.", field="name")
    return name or None


class Account(Aggregate):
    email: str
    name: str | None
    password_hash: str
    plan_code: str
    api_key_ids: list[UUID]

    @event("Registered")
    def __init__(self, email: str, name: str | None, password_hash: str, plan_code: str) -> None:
        self.email = email
        self.name = name
        self.password_hash = password_hash
        self.plan_code = plan_code
        self.api_key_ids = []

    @property
    def plan(self) -> Plan:
        return get_plan(self.plan_code)

    # -- plan ---------------------------------------------------------------------------

    def change_plan(self, plan_code: str) -> None:
        get_plan(plan_code)  # refuse an unknown plan before anything is recorded
        if plan_code != self.plan_code:
            self._change_plan(plan_code)

    @event("PlanChanged")
    def _change_plan(self, plan_code: str) -> None:
        self.plan_code = plan_code

    # -- password -----------------------------------------------------------------------

    @event("PasswordRehashed")
    def rehash_password(self, password_hash: str) -> None:
        """Same password, stronger hash parameters (recorded on a successful login)."""
        self.password_hash = password_hash

    # -- API keys -----------------------------------------------------------------------

    def add_api_key(self, key_id: UUID) -> None:
        self.check_plan_includes_api_access()
        self.check_api_key_limit_not_reached()
        self._add_api_key(key_id)

    @event("ApiKeyAdded")
    def _add_api_key(self, key_id: UUID) -> None:
        self.api_key_ids = [*self.api_key_ids, key_id]

    @event("ApiKeyRemoved")
    def remove_api_key(self, key_id: UUID) -> None:
        self.api_key_ids = [k for k in self.api_key_ids if k != key_id]

    # -- invariants ---------------------------------------------------------------------

    def check_plan_includes_api_access(self) -> None:
        if not self.plan.api_access:
            raise PlanRequired(
                f"The {self.plan.name} plan has no API access; upgrade to Pro or Agency."
            )

    def check_api_key_limit_not_reached(self) -> None:
        limit = self.plan.max_api_keys
        if len(self.api_key_ids) >= limit:
            raise ApiKeyLimitReached(
                f"The {self.plan.name} plan allows {limit} API keys; revoke one to make room."
            )
