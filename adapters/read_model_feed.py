"""Which accounts' reads changed, told to every web process as the change commits.

A transaction that changes a read model the web processes keep answers of
(`api.read_cache`) ends by calling `backlynk_read_models_changed(model, accounts,
aggregates)`: the projector's batch with the aggregates whose events it applied and the
accounts owning their rows (`projections.runner`), a reset or a rebuild with none
(meaning every account), the catalogue's statement trigger likewise
(`adapters.directories`). The function takes the next position from a one-row counter,
under that row's lock held to commit, so positions grow in commit order (and never go
back, even if the row is deleted), and NOTIFYs `backlynk_read_models` with "position model
accounts aggregates" ("*" for every account, or every aggregate of the accounts named;
more than `MAX_ACCOUNTS` accounts or `MAX_AGGREGATES` aggregates are sent as "*", so a
payload stays under Postgres' 8,000 bytes). The model "*" means every model. Taking the
position last in the transaction keeps the lock for the commit alone.

`ReadModelFeed` is each web process's listener (`adapters.position_feed`). For each (model,
account), and each (model, aggregate), it knows the position of the last change told, and
gives an answer's `tag`: for each model, the highest of that (the account's, for a list;
the aggregate's, for one resource), the model's last change for every account, and
`floor` (where it started listening, or forgot). A tag taken while the feed had reached a position
read after the request arrived, and still the same later, proves that no change to those
models for that account (or that aggregate) committed in between: the web process may
answer again what it read then. This holds as long as a projection that tells writes only
rows of the aggregates whose events it applies (`projections.base.Owners`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

from adapters.position_feed import PositionFeed

log = logging.getLogger("backlynk.read_models")

CHANNEL = "backlynk_read_models"
POSITION_TABLE = "backlynk_read_model_position"
POSITION_SQL = f"SELECT coalesce((SELECT position FROM public.{POSITION_TABLE}), 0)"
#: accounts named in one notification at most; more are told as every account
MAX_ACCOUNTS = 64
#: aggregates named at most; more are told as every aggregate of the accounts named
MAX_AGGREGATES = 64
#: (model, account) pairs remembered at most; past that the feed forgets them all at once
MAX_PAIRS = 200_000
EVERY = "*"

#: the id of the current transaction: a position to start from that is above any position
#: ever told (each position told was taken by a transaction of its own, whose id is at least
#: the position's distance from where counting started), should the row go
_ABOVE_ALL_TOLD = "pg_current_xact_id()::text::bigint"

DDL = [
    f"""CREATE TABLE IF NOT EXISTS public.{POSITION_TABLE} (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        position bigint NOT NULL)""",
    f"""INSERT INTO public.{POSITION_TABLE} (position) VALUES ({_ABOVE_ALL_TOLD})
        ON CONFLICT DO NOTHING""",
    # its first form told accounts only (never released)
    "DROP FUNCTION IF EXISTS public.backlynk_read_models_changed(text, uuid[])",
    f"""CREATE OR REPLACE FUNCTION public.backlynk_read_models_changed(
            model text, accounts uuid[], aggregates uuid[]) RETURNS void
        LANGUAGE plpgsql AS $body$
        DECLARE
            told bigint;
        BEGIN
            INSERT INTO public.{POSITION_TABLE} AS p (position) VALUES ({_ABOVE_ALL_TOLD})
                ON CONFLICT (singleton) DO UPDATE SET position = p.position + 1
                RETURNING position INTO told;
            PERFORM pg_notify('{CHANNEL}', told::text || ' ' || model || ' ' ||
                CASE WHEN accounts IS NULL OR cardinality(accounts) > {MAX_ACCOUNTS} THEN '*'
                     ELSE array_to_string(accounts, ',') END || ' ' ||
                CASE WHEN accounts IS NULL OR cardinality(accounts) > {MAX_ACCOUNTS}
                          OR aggregates IS NULL OR cardinality(aggregates) > {MAX_AGGREGATES}
                     THEN '*' ELSE array_to_string(aggregates, ',') END);
        END $body$""",
]


def told_sql(model: str) -> str:
    """The call that tells every web process `model` changed for every account."""
    return f"SELECT public.backlynk_read_models_changed('{model}', NULL, NULL)"


class ReadModelFeed(PositionFeed):
    def __init__(self, dsn: str):
        super().__init__(dsn, CHANNEL, POSITION_SQL, log=log, name="read model listener")
        #: (model, account) -> the position of the last change told of the account's rows
        self._accounts: dict[tuple[str, UUID], int] = {}
        #: (model, aggregate) -> the position of the last change told of its rows
        self._aggregates: dict[tuple[str, UUID], int] = {}
        #: (model, account) -> the last change told of the account's rows whose aggregates
        #: were not named (too many): any aggregate of the account may have changed
        self._unnamed: dict[tuple[str, UUID], int] = {}
        #: model -> the position of its last change to every account
        self._every: dict[str, int] = {}
        #: below it, anything may have changed unseen
        self.floor = 0

    def _take(self, payload: str) -> int:
        told, model, accounts, aggregates = payload.split(" ", 3)
        position = int(told)
        if model == EVERY:
            self.floor = max(self.floor, position)
        elif accounts == EVERY:
            self._every[model] = position
        elif accounts:
            if len(self._accounts) + len(self._aggregates) + len(self._unnamed) >= MAX_PAIRS:
                self._clear_pairs()
                self.floor = max(self.floor, position)
            named = [UUID(account) for account in accounts.split(",")]
            for account in named:
                self._accounts[model, account] = position
            if aggregates == EVERY:
                for account in named:
                    self._unnamed[model, account] = position
            elif aggregates:
                for aggregate in aggregates.split(","):
                    self._aggregates[model, UUID(aggregate)] = position
        return position

    def _clear_pairs(self) -> None:
        self._accounts.clear()
        self._aggregates.clear()
        self._unnamed.clear()

    def _forget(self) -> None:
        self._clear_pairs()
        self._every.clear()
        if self.position is not None:  # connected afresh: what came before went unseen
            self.floor = max(self.floor, self.position)

    def tag(
        self, models: Iterable[str], account: UUID, aggregate: UUID | None = None
    ) -> tuple[int, ...]:
        """Where `models` stand for `account`, or for one `aggregate` of it: it changes
        whenever a change told could have changed what such an answer shows (a change to
        the account's rows, to the aggregate's, or to every account's)."""
        every, floor = self._every, self.floor
        if aggregate is None:
            accounts = self._accounts
            return tuple(
                [max(accounts.get((m, account), 0), every.get(m, 0), floor) for m in models]
            )
        aggregates, unnamed = self._aggregates, self._unnamed
        return tuple(
            [
                max(
                    aggregates.get((m, aggregate), 0),
                    unnamed.get((m, account), 0),
                    every.get(m, 0),
                    floor,
                )
                for m in models
            ]
        )
