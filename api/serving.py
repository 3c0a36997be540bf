"""`backlynk serve` with `WEB_CONCURRENCY` > 1: that many web processes behind one address,
each listening on a socket of its own (`SO_REUSEPORT`), supervised by the command's process.

Why not uvicorn's own `--workers`: it binds one socket as `socket.socket(family)` — protocol
0 — and hands it to every worker. asyncio sets `TCP_NODELAY` only on accepted sockets whose
protocol is `IPPROTO_TCP` (`asyncio.base_events._set_nodelay`), so the workers' connections
kept Nagle's algorithm; uvicorn writes an answer's head and body in two `send`s, and the
body then waited for the client's delayed ACK (40 ms on Linux): every request on a kept-alive
connection took ~44 ms (strace: no `setsockopt(TCP_NODELAY)` after `accept4` in the workers,
one per connection with one process). And with one shared socket, the process that wakes
first accepts a whole burst of new connections: wrk's 32 all went to one process. Here each
process binds its own `IPPROTO_TCP` socket with `SO_REUSEPORT`, so asyncio sets `TCP_NODELAY`
and the kernel spreads new connections over the processes.

`run_processes` also serves the bench's hello-world (`bench/api.py`), so both sides of that
comparison start their processes the same way.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE

from adapters import parsing_pool
from adapters import settings as settings_module
from adapters.log_format import configure_logging

log = logging.getLogger("backlynk.serving")

#: seconds between two looks at the web processes (a dead one is replaced)
WATCH_INTERVAL_S = 0.5


class WithParsingPool:
    """The process's parsing pool lives as long as the app: warmed before it serves,
    stopped when it has shut down."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        parsing_pool.warm()
        try:
            await self.app(scope, receive, send)
        finally:
            parsing_pool.shutdown()


def app() -> ASGIApp:
    """One web process's app, from the environment `backlynk serve` checked."""
    from api.app import create_app  # here: the bench's hello-world processes need none of it

    return WithParsingPool(create_app(settings_module.load(), freeze_start_up=True))


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) that other processes may bind too
    (`SO_REUSEPORT`: the kernel spreads connections over those listening). Created with
    `IPPROTO_TCP` so that asyncio turns Nagle off on what it accepts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _web_process(target: str, options: dict[str, Any]) -> None:
    """One web process: its own socket, uvicorn on it (uvicorn handles SIGTERM: it stops
    accepting, finishes the requests in flight, runs the lifespan's shutdown). A spawned
    process starts with logging unconfigured: configured as the command's own."""
    configure_logging()
    try:
        sock = listening_socket(options["host"], options["port"])
    except OSError as exc:
        log.error("cannot bind %s:%s: %s", options["host"], options["port"], exc)
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(uvicorn.Config(target, **options))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def run_processes(target: str, count: int, options: dict[str, Any]) -> None:
    """Serve `target` (uvicorn's "module:attribute") from `count` processes on
    options["host"]:options["port"] until SIGTERM or SIGINT; a process that dies is
    replaced, unless it failed to start (then every process stops and this exits 1)."""
    # held (never listening) while the processes run: the port is checked before any
    # starts, and no program without SO_REUSEPORT takes it while one is being replaced
    reserved = listening_socket(options["host"], options["port"])
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    failed = False

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=_web_process, args=(target, options), daemon=False)
        process.start()
        return process

    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    processes = [start() for _ in range(count)]
    try:
        while not stop.wait(WATCH_INTERVAL_S):
            for i, process in enumerate(processes):
                if process.exitcode is None:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("web process %s failed to start: stopping", process.pid)
                    failed = True
                    stop.set()
                    break
                log.warning(
                    "web process %s ended (%s): starting another", process.pid, process.exitcode
                )
                processes[i] = start()
    finally:
        for process in processes:
            if process.exitcode is None:
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        for process in processes:
            process.join()
        reserved.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    # python -m api.serving MODULE:APP COUNT PORT: any ASGI app served as `backlynk serve`
    # serves Backlynk with WEB_CONCURRENCY=COUNT (the bench's hello-world)
    target, count, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    run_processes(
        target,
        count,
        dict(
            host="127.0.0.1", port=port, access_log=False, log_level="warning", proxy_headers=True
        ),
    )
