"""The API fuzzed against its own OpenAPI document (schemathesis), as part of `make test`.

One live service (`backlynk serve` + `projector` on a fresh database; no worker and no
sandbox, so nothing is ever submitted) and an Agency account with a site, a job and a
spare API key, so that fuzzed ids sometimes name real objects. Every operation that takes
credentials is fuzzed twice, signed in once with a Bearer token and once with an API key;
the public ones once, without credentials. Each answer must:

* not be a 5xx;
* if it is not 2xx, be API.md's error envelope
  `{"message": str, "error": {"code": str, "field": str | null, "details": ...}}`;
* conform to the document: a documented status, content type and body schema;
* for a method the path does not have, be 405 with an `Allow` header naming the others.

The budget is bounded (`BACKLYNK_FUZZ_EXAMPLES` examples per operation and credential,
default 15, generated deterministically so CI sees the same requests on every run; for a
longer hunt by hand set it higher, e.g. 200, and `BACKLYNK_FUZZ_RANDOM=1` for new inputs).

Outbound fetches: the service runs with `BACKLYNK_VERIFY_SITES=0` (no landing-page fetch
when a site is registered) and the only operations that fetch, the two backlink checks,
get their `urls` rewritten before sending: a URL string that could be absolute (it has a
`:`) becomes `http://127.0.0.1:<closed port>/<the fuzzed text, percent-encoded>`, so
the checker runs its whole path (SSRF guard allowing loopback, connect refused at once)
without a request ever leaving the machine or waiting on DNS. Strings without `:` stay
as generated: the service must refuse them as not absolute.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from api.openapi import build_document
from api.operations import OPERATIONS as TABLE
from tests.live_service import LiveService

pytestmark = pytest.mark.xdist_group("heavy")

EXAMPLES = int(os.environ.get("BACKLYNK_FUZZ_EXAMPLES", "15"))
RANDOM = os.environ.get("BACKLYNK_FUZZ_RANDOM") == "1"
EMAIL, PASSWORD = "fuzz@agency.example.com", "fuzz-password-123"
CHECKER_PATHS = ("/api/v1/public/check-backlinks", "/api/v1/directories/check-backlinks")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",  # a method the path lacks: 405 with a complete Allow header
]


def _call(service: LiveService, method: str, path: str, body: Any = None, **headers: str) -> Any:
    request = urllib.request.Request(
        service.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


class World:
    """What the account owns: credentials, and ids fuzzed requests may hit."""

    def __init__(self, service: LiveService):
        tokens = _call(
            service, "POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD}
        )
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        key = _call(service, "POST", "/api/v1/api-keys", {"name": "fuzz"}, **bearer)
        spare = _call(service, "POST", "/api/v1/api-keys", {"name": "spare"}, **bearer)
        site = _call(
            service,
            "POST",
            "/api/v1/sites",
            {"url": "https://fuzzed-site.com", "name": "Fuzzed"},
            **bearer,
        )
        job = _call(service, "POST", "/api/v1/jobs", {"site_id": site["id"]}, **bearer)
        self.bearer = bearer
        self.api_key = {"x-api-key": key["key"]}
        # path and query parameters by name -> a real id (the spare key, never the one in use)
        self.ids = {"site_id": site["id"], "job_id": job["id"], "key_id": spare["id"]}
        self.closed_port = service.sandbox_port  # nothing listens there: no sandbox runs


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    # the public checker's per-IP rate would answer 429 to nearly every fuzzed check
    with LiveService(workdir, name="fuzz", BACKLYNK_PUBLIC_CHECK_RATE="1000000") as service:
        service.migrate()
        service.import_sandbox_catalogue()
        service.command(
            "users", "create", "--email", EMAIL, "--password", PASSWORD, "--plan", "agency"
        )
        service.start_web()
        service.start("projector", "projector")
        service.wait_ready()
        yield service, World(service)


def _operations() -> list[Any]:
    config = SchemathesisConfig.from_dict(
        {
            # credentials come from the test; generated ones would only answer 401
            "generation": {"with-security-parameters": False, "database": "none"},
        }
    )
    loaded = schemathesis.openapi.from_dict(build_document(TABLE), config=config)
    return [result.ok() for result in loaded.get_all_operations()]


OPERATIONS = _operations()


def _strategy(operation: Any) -> Any:
    """Valid requests, and invalid ones where the operation takes any input."""
    modes = [GenerationMode.POSITIVE]
    if any(
        len(group)
        for group in (operation.path_parameters, operation.query, operation.headers, operation.body)
    ):
        modes.append(GenerationMode.NEGATIVE)
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))


def _with_real_ids(case: Any, world: World, draw: Any) -> None:
    """Half the time, path and query ids name the account's real objects."""
    for parameters in (case.path_parameters, case.query):
        if isinstance(parameters, dict):
            for name in parameters.keys() & world.ids.keys():
                if draw(st.booleans()):
                    parameters[name] = world.ids[name]


def _fetch_nothing_outside(case: Any, world: World) -> None:
    if case.operation.path in CHECKER_PATHS and isinstance(case.body, dict):
        urls = case.body.get("urls")
        if isinstance(urls, list):
            case.body = {**case.body, "urls": [_loopback(u, world.closed_port) for u in urls]}


def _loopback(url: Any, port: int) -> Any:
    if not isinstance(url, str) or ":" not in url:
        return url
    return f"http://127.0.0.1:{port}/{quote(url, safe='')[:500]}"


def error_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """API.md: every non-2xx answer is `{"message", "error": {"code", "field", "details"}}`."""
    if 200 <= response.status_code < 300:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} answer is not JSON") from None
    assert isinstance(body, dict) and set(body) == {"message", "error"}, body
    assert isinstance(body["message"], str) and body["message"], body
    error = body["error"]
    assert isinstance(error, dict) and {"code", "field", "details"} <= set(error), body
    assert isinstance(error["code"], str) and error["code"], body
    assert error["field"] is None or isinstance(error["field"], str), body
    return True


def _checks() -> list[Any]:
    from schemathesis import checks

    return [getattr(checks, name) for name in CHECKS]


def test_the_fuzzed_document_is_the_one_served(fuzzed: Any) -> None:
    service, _ = fuzzed
    with urllib.request.urlopen(f"{service.url}/api/v1/openapi.json", timeout=30) as answer:
        assert json.loads(answer.read()) == json.loads(json.dumps(build_document(TABLE)))


def _runs() -> list[Any]:
    """Each operation that takes credentials once with each kind; the others once, bare."""
    paths = build_document(TABLE)["paths"]
    runs = []
    for operation in OPERATIONS:
        if operation.path.endswith("/stream"):
            continue  # a stream of the unfinished job stays open: tests/test_job_stream.py
        secured = "security" in paths[operation.path][operation.method.lower()]
        for credentials in ("bearer", "api_key") if secured else ("anonymous",):
            runs.append(pytest.param(operation, credentials, id=f"{operation.label}-{credentials}"))
    return runs


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("operation", "credentials"), _runs())
def test_fuzzed_operation(operation: Any, credentials: str, fuzzed: Any) -> None:
    service, world = fuzzed
    headers = {"bearer": world.bearer, "api_key": world.api_key}.get(credentials, {})

    @settings(
        max_examples=EXAMPLES,
        derandomize=not RANDOM,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation), data=st.data())
    def fuzz(case: Any, data: Any) -> None:
        _with_real_ids(case, world, data.draw)
        _fetch_nothing_outside(case, world)
        response = case.call(base_url=service.url, headers=headers)
        case.validate_response(response, checks=_checks(), additional_checks=[error_envelope])

    fuzz()
