"""Credential events as they commit: a trigger on the event store, a shared position,
and each web process's listener.

Every event that can make a cached credential wrong (a session revoked, a key revoked,
any change to an account: its plan, its name, its keys) fires a trigger *in the
transaction that appends it*. The trigger raises `backlynk_credential_position` to the
event's notification id and NOTIFYs `backlynk_credentials` with the id and the aggregate;
both take effect at commit, or not at all. Appends hold the event table's exclusive lock
until commit (`adapters.event_store`), so these commits — and so the NOTIFYs, which
Postgres delivers in commit order — come in notification-id order: a listener that has
processed id N has seen every credential event up to N.

`CredentialFeed` is that listener: one connection per process, LISTENing. Its
`position` is the last credential event it has processed, or None while it is not
connected (then nothing it fed may be trusted). `committed()` reads the shared position
from the primary; concurrent callers share one read, but always one that *started after
they asked*, so it includes every credential event committed before their request
arrived. Events that create a credential (sign-in, a new key, registration), refresh a
session or only record a key's use change nothing cached and fire nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.utils import get_topic

from adapters.event_store import EVENTS_TABLE
from adapters.position_feed import PositionFeed
from domain.account import Account
from domain.api_key import ApiKey
from domain.auth_session import AuthSession

if TYPE_CHECKING:
    from adapters.read_versions import ReadVersions

log = logging.getLogger("backlynk.credentials")

CHANNEL = "backlynk_credentials"
POSITION_TABLE = "backlynk_credential_position"
#: the latest credential event committed (also read by `adapters.read_versions`)
POSITION_SQL = f"SELECT coalesce((SELECT notification_id FROM public.{POSITION_TABLE}), 0)"
_POSITION = POSITION_SQL

_WATCHED = [f"{get_topic(cls)}." for cls in (Account, AuthSession, ApiKey)]
_IGNORED = [
    get_topic(cls)
    for cls in (
        Account.Registered,
        AuthSession.Started,
        AuthSession.Refreshed,
        ApiKey.Created,
        ApiKey.Used,
    )
]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_WHEN = "(NOT NEW.topic = ANY(ARRAY[{}]::text[]) AND ({}))".format(
    ", ".join(_sql_text(t) for t in _IGNORED),
    " OR ".join(f"starts_with(NEW.topic, {_sql_text(p)})" for p in _WATCHED),
)

DDL = [
    f"""CREATE TABLE IF NOT EXISTS public.{POSITION_TABLE} (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        notification_id bigint NOT NULL)""",
    f"INSERT INTO public.{POSITION_TABLE} (notification_id) VALUES (0) ON CONFLICT DO NOTHING",
    f"""CREATE OR REPLACE FUNCTION public.backlynk_credential_changed() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN
            INSERT INTO public.{POSITION_TABLE} AS p (notification_id)
                 VALUES (NEW.notification_id) ON CONFLICT (singleton) DO UPDATE
                 SET notification_id = GREATEST(p.notification_id, NEW.notification_id);
            PERFORM pg_notify('{CHANNEL}', NEW.notification_id::text || ' ' || NEW.originator_id);
            RETURN NULL;
        END $body$""",
    # the topics watched are computed here, so a renamed event class changes the trigger
    # at the next `backlynk migrate`
    f"""CREATE OR REPLACE TRIGGER backlynk_credential_changed
        AFTER INSERT ON public.{EVENTS_TABLE} FOR EACH ROW WHEN {_WHEN}
        EXECUTE FUNCTION public.backlynk_credential_changed()""",
]

#: passed to `on_change` when anything may have changed
EVERYTHING = UUID(int=0)


class CredentialFeed(PositionFeed):
    def __init__(self, dsn: str, versions: ReadVersions, on_change: Callable[[UUID], None]):
        """`versions`: where the process reads the position (with the read models',
        `adapters.read_versions`), from the primary."""
        super().__init__(dsn, CHANNEL, _POSITION, log=log, name="credential listener")
        self._versions = versions
        self._on_change = on_change

    def _take(self, payload: str) -> int:
        nid, _, originator = payload.partition(" ")
        self._on_change(UUID(originator))
        return int(nid)

    def _forget(self) -> None:
        self._on_change(EVERYTHING)

    # -- the shared position -----------------------------------------------------------

    async def committed(self) -> int:
        """The position of the latest credential event committed, read by a query that
        starts after this call (callers meanwhile share it)."""
        return (await self._versions.read()).credential
