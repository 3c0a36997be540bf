"""The web process's credential cache (`adapters.credential_cache`) against a real
Postgres: it answers as the event store stands when asked, even when the listener has not
heard of an event yet, and it forgets everything when the listener loses its connection."""

from __future__ import annotations

import asyncio

from adapters.credential_cache import CachedCredentials
from adapters.credential_feed import CHANNEL, POSITION_TABLE
from adapters.wiring import auth_ports
from domain.ports import AuthPorts
from domain.services.accounts import create_account, set_plan
from domain.services.api_keys import create_api_key, revoke_api_key
from domain.services.authentication import authenticate_api_key
from domain.services.sessions import login, logout
from tests.accounts import PASSWORD, unique_email


async def _paid_key(ports: AuthPorts) -> tuple[str, str, str]:
    email = unique_email("cache")
    account = (await create_account(ports, email, PASSWORD, plan_code="pro")).account
    created = await create_api_key(ports, account.id, "cache")
    return email, created.key, created.api_key.id


async def _position(infra) -> int:
    return await infra.pool.fetchval(f"SELECT notification_id FROM {POSITION_TABLE}")


async def _until(condition, what: str) -> None:
    """Wait (generously bounded) for something the listener does in the background."""
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_a_cached_key_is_refused_at_once_after_revocation(infra) -> None:
    store_ports = auth_ports(infra)
    email, key, key_id = await _paid_key(store_ports)
    cache = await CachedCredentials.start_for(infra)
    try:
        ports = auth_ports(infra, credentials=cache)
        assert (await authenticate_api_key(ports, key)).plan.code == "pro"
        digest = ports.secrets.hash(key)
        assert ("key", digest) in cache._entries  # served from memory from now on
        await set_plan(store_ports, email, "agency")
        assert (await authenticate_api_key(ports, key)).plan.code == "agency"
        await revoke_api_key(store_ports, (await cache.by_api_key_hash(digest)).account.id, key_id)
        record = await cache.by_api_key_hash(digest)
        assert record is not None and record.revoked
    finally:
        await cache.stop()


async def test_an_event_whose_notify_has_not_arrived_still_applies(infra) -> None:
    """The race: one process answered "logged out", the client calls another whose
    listener has not processed the NOTIFY. The shared position says the cache is behind,
    so the answer comes from the event store, and the listener is reconnected."""
    store_ports = auth_ports(infra)
    email, _, _ = await _paid_key(store_ports)
    signed_in = await login(store_ports, email, PASSWORD, "127.0.0.1")
    session_id = store_ports.tokens.read(signed_in.access_token, store_ports.clock.now()).session_id
    cache = await CachedCredentials.start_for(infra)
    try:
        assert not (await cache.by_session(session_id)).revoked
        deaf = cache.feed._conn
        # the listener hears nothing more, as if every NOTIFY were still on the wire
        await deaf.remove_listener(CHANNEL, cache.feed._notified)
        await logout(store_ports, signed_in.refresh_token)
        assert (await cache.by_session(session_id)).revoked
        await _until(lambda: cache.feed._conn not in (None, deaf), "listener reconnected")
        await set_plan(store_ports, email, "free")
        assert (await cache.by_session(session_id)).account.plan_code == "free"
    finally:
        await cache.stop()


async def test_a_lost_listener_connection_drops_the_cache(infra) -> None:
    store_ports = auth_ports(infra)
    email, key, _ = await _paid_key(store_ports)
    digest = store_ports.secrets.hash(key)
    cache = await CachedCredentials.start_for(infra)
    try:
        await cache.by_api_key_hash(digest)
        assert cache._entries
        lost = cache.feed._conn
        await infra.pool.execute("SELECT pg_terminate_backend($1)", lost.get_server_pid())
        await _until(lambda: cache.feed._conn is not lost, "listener noticed the loss")
        assert not cache._entries
        await _until(lambda: cache.feed.position is not None, "listener back")
        await set_plan(store_ports, email, "agency")
        assert (await cache.by_api_key_hash(digest)).account.plan_code == "agency"
    finally:
        await cache.stop()


async def test_only_events_that_change_a_credential_move_the_shared_position(infra) -> None:
    ports = auth_ports(infra)
    email, key, key_id = await _paid_key(ports)
    before = await _position(infra)
    await login(ports, email, PASSWORD, "127.0.0.1")  # a new session changes nothing cached
    await authenticate_api_key(ports, key)  # records the key's use
    assert await _position(infra) == before
    account_id = (await ports.credentials.by_api_key_hash(ports.secrets.hash(key))).account.id
    nid = await revoke_api_key(ports, account_id, key_id)
    assert await _position(infra) == nid
