"""Nothing secret at rest in the clear: after sign-ups, logins, refreshes and API key
creations sent with Idempotency-Key (and replayed), no token, API key or password is in
any Redis value or key name of the deployment's namespace."""

from __future__ import annotations

import uuid

from adapters.wiring import auth_ports
from domain.services.accounts import set_plan
from tests.accounts import PASSWORD, bearer, unique_email


async def post(api, path: str, body: dict, key: str, headers: dict | None = None):
    """The answer's status and raw bytes, first and on a retry with the same key."""
    answers = []
    for _ in range(2):
        async with api.http.post(
            path, json=body, headers={"Idempotency-Key": key, **(headers or {})}
        ) as r:
            answers.append((r.status, await r.read(), r.headers.get("Cache-Control")))
    first, replay = answers
    assert replay == first, path  # the same answer byte for byte (and still no-store)
    return first[0], first[1]


async def raw_values(redis, namespace: str) -> list[bytes]:
    """Every key name and every value in the namespace, whatever the Redis type."""
    out: list[bytes] = []
    async for name in redis.scan_iter(f"{namespace}:*"):
        out.append(name)
        kind = (await redis.type(name)).decode()
        if kind == "string":
            out.append(await redis.get(name))
        elif kind == "hash":
            out.extend(b for kv in (await redis.hgetall(name)).items() for b in kv)
        elif kind == "list":
            out.extend(await redis.lrange(name, 0, -1))
        elif kind == "set":
            out.extend(await redis.smembers(name))
        elif kind == "zset":
            out.extend(await redis.zrange(name, 0, -1))
        else:
            raise AssertionError(f"{name!r}: unexpected Redis type {kind}")
    return out


async def test_no_token_api_key_or_password_is_in_redis_in_the_clear(api, infra, isolated_settings):
    import msgspec

    email = unique_email("idem")
    status, raw = await post(
        api, "/api/v1/auth/register", {"email": email, "password": PASSWORD}, "reg-1"
    )
    assert status == 201
    registered = msgspec.json.decode(raw)
    status, raw = await post(
        api, "/api/v1/auth/login", {"email": email, "password": PASSWORD}, "login-1"
    )
    assert status == 200
    logged_in = msgspec.json.decode(raw)
    status, raw = await post(
        api, "/api/v1/auth/refresh", {"refresh_token": logged_in["refresh_token"]}, "ref-1"
    )
    assert status == 200
    refreshed = msgspec.json.decode(raw)
    await set_plan(auth_ports(infra), email, "pro")
    status, raw = await post(
        api, "/api/v1/api-keys", {"name": "ci"}, f"key-{uuid.uuid4()}", bearer(refreshed)
    )
    assert status == 201
    api_key = msgspec.json.decode(raw)["key"]
    assert api_key.startswith("bk_live_")

    secrets = [
        api_key,
        PASSWORD,
        *(
            t[k]
            for t in (registered, logged_in, refreshed)
            for k in ("access_token", "refresh_token")
        ),
    ]
    stored = await raw_values(infra.redis, isolated_settings.redis_namespace)
    idem = [v for v in stored if b":idem:" in v]
    assert len(idem) == 4  # one record per key, the replays added none
    blob = b"\n".join(stored)
    for secret in secrets:
        assert secret.encode() not in blob
    # nor a part of a token long enough to matter (a JWT's signature, an API key's body)
    for secret in secrets[2:]:
        assert secret.rsplit(".", 1)[-1].encode() not in blob
    assert api_key.removeprefix("bk_live_").encode() not in blob
    for name in ("reg-1", "login-1", "ref-1"):
        assert not any(name.encode() in v for v in idem)  # key names tell nothing either
