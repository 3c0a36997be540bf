"""A signed-in API client for the tests: one account, its credentials on every call, and
the answers as a user sees them (status, JSON body, headers)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDictProxy

from tests.accounts import bearer, paid_account

_names = itertools.count(1)


@dataclass
class Answer:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]


class Client:
    def __init__(self, server: Any, tokens: dict[str, Any], headers: dict[str, str] | None = None):
        self.server = server
        self.tokens = tokens
        self.headers = headers if headers is not None else bearer(tokens)

    @property
    def email(self) -> str:
        return self.tokens["user"]["email"]

    def with_headers(self, headers: dict[str, str]) -> Client:
        return Client(self.server, self.tokens, headers)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        async with self.server.http.request(
            method,
            path,
            json=json,
            params=params,
            headers={**self.headers, **(headers or {})},
        ) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return Answer(r.status, body, r.headers)

    async def get(self, path: str, **params: Any) -> Answer:
        return await self.call("GET", path, params=params or None)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Answer:
        return await self.call("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any) -> Answer:
        return await self.call("PATCH", path, json=json)

    async def delete(self, path: str) -> Answer:
        return await self.call("DELETE", path)

    # -- the common steps --------------------------------------------------------------

    async def add_site(self, url: str | None = None, **fields: Any) -> dict[str, Any]:
        n = next(_names)
        body = {"url": url or f"https://site{n}.example.org/", "name": f"Site {n}", **fields}
        a = await self.post("/api/v1/sites", body)
        assert a.status == 201, a.body
        return a.body

    async def create_job(self, site_id: str, directory_ids: list[int] | None = None) -> Answer:
        body: dict[str, Any] = {"site_id": site_id}
        if directory_ids is not None:
            body["directory_ids"] = directory_ids
        return await self.post("/api/v1/jobs", body)

    async def job(self, site_id: str, directory_ids: list[int] | None = None) -> dict[str, Any]:
        a = await self.create_job(site_id, directory_ids)
        assert a.status == 202, a.body
        return a.body

    async def usage(self) -> dict[str, Any]:
        a = await self.get("/api/v1/users/me")
        assert a.status == 200, a.body
        return a.body["usage"]


def assert_error(answer: Answer, status: int, code: str, field: str | None = None) -> None:
    """The envelope of API.md: message, error.code, error.field, a non-empty details."""
    assert answer.status == status, answer.body
    body = answer.body
    assert set(body) == {"message", "error"}, body
    assert set(body["error"]) == {"code", "field", "details"}, body  # field always there
    assert isinstance(body["message"], str) and body["message"], body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["details"], str) and body["error"]["details"].strip(), body
    if field is not None:
        assert body["error"]["field"] == field, body


async def event_count(infra: Any) -> int:
    """Every state change is an event: an unchanged count proves a refusal wrote nothing."""
    return await infra.pool.fetchval("SELECT count(*) FROM backlynk_events")


async def account(server: Any, infra: Any, plan: str) -> Client:
    """A signed-up account moved to `plan`, as a client."""
    return Client(server, await paid_account(server, infra, plan))
