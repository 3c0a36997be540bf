"""More than one web process: what one process is told, every other applies to the very
next request (each process caches credentials; `adapters.credential_cache`), and rate
limits and idempotency keys are shared through Redis. Real `backlynk serve` processes on
two addresses, one database, one Redis; `WEB_CONCURRENCY` runs several behind one."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.live_service import LiveService, quiet_port
from tests.support import catalogue_json

# real processes (the operator's commands run in this process: `LiveService.command`):
# on a machine shared with other work, starting them takes longer than the default 120 s
pytestmark = [pytest.mark.xdist_group("processes"), pytest.mark.timeout(300)]


def call(
    base: str, method: str, path: str, body: object = None, **headers: str
) -> tuple[int, dict, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("content-type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw, status, got = answer.read(), answer.status, dict(answer.headers)
    except urllib.error.HTTPError as refused:
        raw, status, got = refused.read(), refused.code, dict(refused.headers)
    return status, (json.loads(raw) if raw else {}), {k.lower(): v for k, v in got.items()}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def wait_healthy(svc: LiveService, base: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        svc._check_alive()
        try:
            if call(base, "GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{base} not ready\n{svc.tails()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def two_webs(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("two_webs")
    with LiveService(workdir, name="webs", BACKLYNK_REGISTER_RATE="4") as svc:
        svc.migrate()
        other_port = quiet_port()
        svc.start("web_a", "serve", "--port", str(svc.port))
        svc.start("web_b", "serve", "--port", str(other_port))
        svc.start("projector", "projector")
        a, b = svc.url, f"http://127.0.0.1:{other_port}"
        wait_healthy(svc, a)
        wait_healthy(svc, b)
        yield svc, a, b


def register(base: str, email: str) -> dict:
    status, body, _ = call(
        base, "POST", "/api/v1/auth/register", {"email": email, "password": "correct horse 1"}
    )
    assert status == 201, body
    return body


def login(base: str, email: str) -> dict:
    status, body, _ = call(
        base, "POST", "/api/v1/auth/login", {"email": email, "password": "correct horse 1"}
    )
    assert status == 200, body
    return body


def new_key(base: str, access: str, **headers: str) -> tuple[dict, dict[str, str]]:
    status, body, got = call(
        base, "POST", "/api/v1/api-keys", {"name": "bench"}, **bearer(access), **headers
    )
    assert status == 201, body
    return body, got


def test_what_one_process_is_told_the_other_applies_on_the_next_request(two_webs) -> None:
    svc, a, b = two_webs
    email = f"two-{uuid.uuid4().hex[:8]}@example.com"
    first = register(a, email)
    svc.command("users", "set-plan", email, "pro")
    key, _ = new_key(a, first["access_token"])
    api_key = {"x_api_key": key["key"]}

    # both processes have the credentials in their cache
    for base in (a, b, a, b):
        assert call(base, "GET", "/api/v1/sites", **api_key)[0] == 200
        assert call(base, "GET", "/api/v1/users/me", **bearer(first["access_token"]))[0] == 200

    # revoking a key through A: B refuses it on the very next request
    status, _, _ = call(
        a, "DELETE", f"/api/v1/api-keys/{key['id']}", **bearer(first["access_token"])
    )
    assert status == 204
    status, body, _ = call(b, "GET", "/api/v1/sites", **api_key)
    assert status == 401 and body["error"]["code"] == "invalid_api_key", body

    # logging out through A ends the session's access tokens on B
    status, _, _ = call(a, "POST", "/api/v1/auth/logout", {"refresh_token": first["refresh_token"]})
    assert status == 204
    status, body, _ = call(b, "GET", "/api/v1/users/me", **bearer(first["access_token"]))
    assert status == 401, body

    # a refresh token used twice through A revokes the session on B at once
    second = login(a, email)
    status, third, _ = call(
        a, "POST", "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]}
    )
    assert status == 200, third
    assert call(b, "GET", "/api/v1/users/me", **bearer(third["access_token"]))[0] == 200
    status, body, _ = call(
        a, "POST", "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]}
    )
    assert status == 401 and body["error"]["code"] == "refresh_token_reused", body
    status, body, _ = call(b, "GET", "/api/v1/users/me", **bearer(third["access_token"]))
    assert status == 401, body

    # a plan change (the operator's command) applies to both at once
    fourth = login(a, email)
    key, _ = new_key(a, fourth["access_token"])
    for base in (a, b):
        assert call(base, "GET", "/api/v1/sites", x_api_key=key["key"])[0] == 200
        assert call(base, "GET", "/api/v1/sites", **bearer(fourth["access_token"]))[0] == 200
    svc.command("users", "set-plan", email, "free")
    for base in (b, a):
        status, body, _ = call(base, "GET", "/api/v1/sites", x_api_key=key["key"])
        assert status == 403 and body["error"]["code"] == "plan_required", body
        status, body, _ = call(base, "GET", "/api/v1/sites", **bearer(fourth["access_token"]))
        assert status == 403 and body["error"]["code"] == "plan_required", body
        status, body, _ = call(base, "GET", "/api/v1/users/me", **bearer(fourth["access_token"]))
        assert status == 200 and body["plan"]["code"] == "free", body


def test_what_one_process_writes_the_other_shows_on_its_next_read(two_webs, tmp_path) -> None:
    """Each process gives answers of repeated reads again while the read models they show
    are unchanged (`api.read_cache`): a write through A, or an import of the catalogue,
    is in B's very next answer, though B had just answered the same read from memory."""
    svc, a, b = two_webs
    email = f"reads-{uuid.uuid4().hex[:8]}@example.com"
    access = register(a, email)["access_token"]
    svc.command("users", "set-plan", email, "pro")
    auth = bearer(access)
    for _ in range(2):
        status, listed, _ = call(b, "GET", "/api/v1/sites", **auth)
        assert status == 200 and listed["data"] == [], listed
    status, site, _ = call(
        a, "POST", "/api/v1/sites", {"url": "https://two-webs.example.com", "name": "Two"}, **auth
    )
    assert status == 201, site
    status, listed, _ = call(b, "GET", "/api/v1/sites", **auth)
    assert [s["id"] for s in listed["data"]] == [site["id"]], listed
    for _ in range(2):
        assert call(b, "GET", f"/api/v1/sites/{site['id']}", **auth)[1]["name"] == "Two"
    status, _, _ = call(a, "PATCH", f"/api/v1/sites/{site['id']}", {"name": "Renamed"}, **auth)
    assert status == 200
    assert call(b, "GET", f"/api/v1/sites/{site['id']}", **auth)[1]["name"] == "Renamed"

    entries = json.loads(catalogue_json(3))
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(entries))
    svc.command("directories", "import", str(catalogue))
    for _ in range(2):
        status, page, _ = call(b, "GET", "/api/v1/directories", **auth)
        assert status == 200 and page["data"][0]["name"] == entries[0]["name"], page
    entries[0]["name"] = "Imported again"
    catalogue.write_text(json.dumps(entries))
    svc.command("directories", "import", str(catalogue))
    status, page, _ = call(b, "GET", "/api/v1/directories", **auth)
    assert status == 200 and page["data"][0]["name"] == "Imported again", page


def test_rate_limits_and_idempotency_keys_are_shared(two_webs) -> None:
    svc, a, b = two_webs
    # BACKLYNK_REGISTER_RATE=4 per client per hour, counted across both processes (the
    # other test may have used one of them)
    answers = []
    for base in (a, b, a, b, a):
        answers.append(
            call(
                base,
                "POST",
                "/api/v1/auth/register",
                {"email": f"rl-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse 1"},
            )
        )
    assert [status for status, _, _ in answers].count(429) >= 1
    assert answers[-1][0] == 429 and answers[-1][1]["error"]["code"] == "rate_limited"

    # a POST replayed through the other process gives the first answer, not a second key
    email = f"idem-{uuid.uuid4().hex[:8]}@example.com"
    svc.command(
        "users", "create", "--email", email, "--password", "correct horse 1", "--plan", "pro"
    )
    access = login(a, email)["access_token"]
    idempotency = {"idempotency_key": uuid.uuid4().hex}
    made, first_headers = new_key(a, access, **idempotency)
    again, replayed = new_key(b, access, **idempotency)
    assert again == made and "idempotent-replayed" not in first_headers
    assert replayed.get("idempotent-replayed") == "true"
    status, listed, _ = call(b, "GET", "/api/v1/api-keys", **bearer(access))
    assert status == 200 and [k["id"] for k in listed["data"]] == [made["id"]]


def listening_sockets(port: int) -> set[str]:
    """The sockets listening on `port`, as /proc/PID/fd names them ("socket:[INODE]"),
    from /proc/net: no tool needed."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            # local address "0100007F:1F90", state 0A = LISTEN
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def holders(sockets: set[str]) -> dict[int, set[str]]:
    """Which of `sockets` each process holds, by pid."""
    held: dict[int, set[str]] = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            mine = {os.readlink(fd) for fd in fd_dir.iterdir()} & sockets
        except OSError:  # a process that ended meanwhile, or not ours to look at
            continue
        if mine:
            held[int(fd_dir.parent.name)] = mine
    return held


def listeners(port: int) -> set[int]:
    """The pids holding a socket that listens on `port`."""
    return set(holders(listening_sockets(port)))


def test_web_concurrency_runs_that_many_processes_behind_one_address(tmp_path: Path) -> None:
    """Each web process listens on a socket of its own (SO_REUSEPORT, see api.serving), a
    process that dies is replaced, and SIGTERM stops them all gracefully."""
    with LiveService(tmp_path, name="concurrency", WEB_CONCURRENCY="2") as svc:
        svc.migrate()
        svc.start_web()
        wait_healthy(svc, svc.url)
        log = svc.logs["web"]

        def started(count: int) -> None:
            deadline = time.monotonic() + 60
            while log.read_text().count("Application startup complete") < count:
                assert time.monotonic() < deadline, svc.tails()
                time.sleep(0.2)

        def listening(count: int) -> set[int]:
            deadline = time.monotonic() + 60
            while len(serving := listeners(svc.port)) < count:
                assert time.monotonic() < deadline, (serving, svc.tails())
                time.sleep(0.05)
            return serving

        started(2)
        web = svc.procs["web"]
        # a process logs its start-up complete before it listens
        serving = listening(2)
        assert len(serving) == 2 and web.pid not in serving, (serving, web.pid)
        for _ in range(20):
            assert call(svc.url, "GET", "/healthz")[0] == 200

        # one of them killed: once its socket is closed (what was queued on it is lost, as
        # with any process killed), the address answers, and a new process takes its place
        gone = min(serving)
        its_socket = holders(listening_sockets(svc.port))[gone]
        os.kill(gone, signal.SIGKILL)
        # closed, not just gone from /proc/PID/fd: the killed process's threads exit one
        # by one, and the last one, which closes the socket, may do so well after the
        # main thread's fd table is empty; meanwhile the kernel still hands the socket
        # new connections, which its close then resets
        deadline = time.monotonic() + 30
        while its_socket & listening_sockets(svc.port):
            assert time.monotonic() < deadline, svc.tails()
            time.sleep(0.05)
        for _ in range(20):
            assert call(svc.url, "GET", "/healthz")[0] == 200
        started(3)
        assert gone not in listening(2)

        web.send_signal(signal.SIGTERM)
        assert web.wait(timeout=30) == 0
        assert log.read_text().count("Application shutdown complete") == 2, svc.tails()
        assert not listening_sockets(svc.port)


def test_each_process_streams_the_jobs_changes_to_its_own_clients(two_webs) -> None:
    """Each web process has its own job feed: a stream on A and one on B of the same job
    both see the change made through A."""
    import asyncio

    import aiohttp

    from tests.sse import EventStream
    from tests.support import catalogue_json

    svc, a, b = two_webs
    catalogue = svc.workdir / "streams-catalogue.json"
    catalogue.write_bytes(catalogue_json(3))
    svc.command("directories", "import", str(catalogue))
    email = f"streams-{uuid.uuid4().hex[:8]}@example.com"
    svc.command(
        "users", "create", "--email", email, "--password", "correct horse 1", "--plan", "pro"
    )
    access = login(a, email)["access_token"]
    site = {"url": f"https://s-{uuid.uuid4().hex[:8]}.example.org/", "name": "Streams"}
    status, site, _ = call(a, "POST", "/api/v1/sites", site, **bearer(access))
    assert status == 201, site
    job_body = {"site_id": site["id"], "directory_ids": [1, 2]}
    status, job, _ = call(a, "POST", "/api/v1/jobs", job_body, **bearer(access))
    assert status == 202, job

    async def watch_both() -> list[list[str]]:
        async with aiohttp.ClientSession(headers=bearer(access)) as http:
            path = f"/api/v1/jobs/{job['id']}/stream"
            async with http.get(a + path) as on_a, http.get(b + path) as on_b:
                assert (on_a.status, on_b.status) == (200, 200)
                streams = [EventStream(on_a), EventStream(on_b)]
                seen = [[(await s.next()).data["status"]] for s in streams]  # type: ignore[union-attr]
                canceled = await asyncio.to_thread(
                    call, a, "POST", f"/api/v1/jobs/{job['id']}/cancel", None, **bearer(access)
                )
                assert canceled[0] == 202, canceled
                for stream, statuses in zip(streams, seen, strict=True):
                    last = await stream.next()
                    assert last is not None and last.event == "finished"
                    statuses.append(last.data["status"])
                    assert await stream.next() is None
                return seen

    assert asyncio.run(watch_both()) == [["queued", "canceled"], ["queued", "canceled"]]
