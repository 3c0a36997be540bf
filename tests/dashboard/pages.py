"""A person's browser without the browser: an aiohttp client that keeps cookies, reads
the CSRF token off the page it just loaded and posts the forms as a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from tests.accounts import PASSWORD, unique_email

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Seen:
    status: int
    text: str
    headers: CIMultiDictProxy[str]
    url: str

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.text)
        assert found, "the page has no form"
        return found.group(1)


class Browser:
    """One visitor: its own cookie jar (the app is on 127.0.0.1, hence `unsafe`)."""

    def __init__(self, server: Any):
        self.server = server
        self.http = aiohttp.ClientSession(
            base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.email = ""

    async def close(self) -> None:
        await self.http.close()

    async def _seen(self, r: aiohttp.ClientResponse) -> Seen:
        return Seen(r.status, await r.text(), r.headers, str(r.url))

    async def get(self, path: str, *, follow: bool = True, **params: Any) -> Seen:
        async with self.http.get(path, params=params or None, allow_redirects=follow) as r:
            return await self._seen(r)

    async def post(
        self, path: str, data: Any, *, follow: bool = True, headers: dict[str, str] | None = None
    ) -> Seen:
        async with self.http.post(path, data=data, allow_redirects=follow, headers=headers) as r:
            return await self._seen(r)

    async def submit(self, page: str, action: str, fields: Any, **kw: Any) -> Seen:
        """Load `page`, then post `fields` to `action` with the page's CSRF token."""
        token = (await self.get(page)).csrf
        data = [("csrf_token", token), *(fields.items() if isinstance(fields, dict) else fields)]
        return await self.post(action, data, **kw)

    async def register(self, email: str | None = None) -> Seen:
        self.email = email or unique_email("dash")
        seen = await self.submit(
            "/dashboard/register",
            "/dashboard/register",
            {"email": self.email, "password": PASSWORD, "name": "Dana"},
        )
        assert seen.status == 200 and "Overview" in seen.text, seen.text
        return seen

    async def sign_in(self, email: str, password: str = PASSWORD) -> Seen:
        self.email = email
        return await self.submit(
            "/dashboard/sign-in", "/dashboard/sign-in", {"email": email, "password": password}
        )

    def cookie(self, name: str) -> str | None:
        for c in self.http.cookie_jar:
            if c.key == name:
                return c.value
        return None
