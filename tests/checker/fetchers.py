"""The fetcher the checker tests use: loopback allowed, the tests' CA trusted, names
resolved from a table (a plain module: conftests import it, never each other)."""

from __future__ import annotations

import ipaddress
from typing import Any

from adapters import parsing_pool
from adapters.fetcher import Fetcher
from adapters.ssrf import AddressPolicy
from tests.checker.sites import StaticResolver, Tls

#: production's fetch timeout: only the timeout tests ask for less
TEST_TIMEOUT = 15.0


def make_fetcher(
    tls: Tls, resolver: StaticResolver, *, allow: tuple[str, ...] = ("127.0.0.0/8",), **kw: Any
) -> Fetcher:
    # a process's fetcher has its parsing processes started (`backlynk serve`, `backlynk
    # worker`): the first big page must not pay for their start within its deadline
    parsing_pool.warm()
    return Fetcher(
        AddressPolicy(ipaddress.ip_network(c) for c in allow),
        timeout=kw.pop("timeout", TEST_TIMEOUT),
        resolver=resolver,
        ssl_context=tls.client_context(),
        **kw,
    )
