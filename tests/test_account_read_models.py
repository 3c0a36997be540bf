"""The accounts and api_keys read models: filled from every account and key event, and a
rebuild from position 0 gives exactly the same rows."""

from __future__ import annotations

from adapters.wiring import auth_ports
from domain.services import accounts, api_keys, authentication, sessions
from projections.accounts import AccountsProjection
from projections.api_keys import ApiKeysProjection
from projections.runner import catch_up, rebuild
from tests.accounts import PASSWORD, unique_email


async def rows(conn, table: str) -> list[tuple]:
    return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY id")]


async def test_rebuilt_account_and_key_tables_equal_the_live_ones(infra):
    ports = auth_ports(infra)
    signed_in = await sessions.register(ports, unique_email(), PASSWORD, "Reader")
    account = signed_in.account
    await accounts.set_plan(ports, account.email, "agency")
    kept = await api_keys.create_api_key(ports, account.id, "kept")
    dropped = await api_keys.create_api_key(ports, account.id, "dropped")
    await authentication.authenticate_api_key(ports, kept.key)  # records a use
    await api_keys.revoke_api_key(ports, account.id, dropped.api_key.id)
    await accounts.create_account(ports, unique_email(), PASSWORD, plan_code="pro")

    projections = [AccountsProjection(), ApiKeysProjection()]
    async with infra.pool.acquire() as conn:
        for projection in projections:
            await catch_up(conn, infra.store, projection)
        live = {p.name: await rows(conn, p.tables[0]) for p in projections}
        for projection in projections:
            await rebuild(conn, infra.store, projection)
        rebuilt = {p.name: await rows(conn, p.tables[0]) for p in projections}

    assert rebuilt == live
    assert [(r[1], r[3]) for r in live["accounts"] if r[0] == account.id] == [
        (account.email, "agency")
    ]
    keys = {r[2]: r for r in live["api_keys"]}
    assert keys["kept"][7] is not None and keys["kept"][8] is None  # used, active
    assert keys["dropped"][8] is not None  # revoked
