"""Where big pages are decoded and parsed: in worker processes, off the event loop.

A thread is not enough. Python threads share one GIL, and the loop must win it back
every time it wakes: with a page analysis holding it (and the machine busy), the wait
reached a second in `bench/checker.py`. A process has its own GIL, so the loop of the web
process only ever waits for its own work. Small bodies are handled in place: sending
them to a process would cost more than it saves (`is_big`)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

#: bodies above this size are decoded and parsed in a worker process
OFF_LOOP_BYTES = 64 * 1024
WORKERS = max(1, min(4, os.cpu_count() or 1))

P = ParamSpec("P")
T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _background(served: int) -> None:
    """Workers yield the CPU to the web process: its loop must wake on time. They load
    the parser now, not while the first big page waits (and competes for the CPU)."""
    os.nice(10)
    _exit_with(served)
    import adapters.page_analysis  # noqa: F401


def _exit_with(pid: int) -> None:
    """End this worker when the process it serves ends, even by `kill -9`. Its parent is
    the forkserver, which in turn waits for its workers: without this, both would
    outlive a killed web or worker process for good."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (not Linux): the executor's own exit
        return

    def wait() -> None:
        select.select([handle], [], [])  # readable once `pid` has exited
        os._exit(0)

    threading.Thread(target=wait, name="exit-with-served", daemon=True).start()


def _ready_executor() -> ProcessPoolExecutor:
    """The pool, its processes started (blocking: call it from a thread, never the loop —
    starting a process takes a while, and more on a busy machine)."""
    global _pool
    with _lock:
        if _pool is None:
            # forkserver: a clean process to fork from (forking the web process, with its
            # threads and open sockets, is not safe)
            context = multiprocessing.get_context("forkserver")
            pool = ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=context,
                initializer=_background,
                initargs=(os.getpid(),),
            )
            for started in [pool.submit(os.getpid) for _ in range(WORKERS)]:
                started.result()
            _pool = pool
        return _pool


def warm() -> None:
    """Start the worker processes before serving (`backlynk serve`, `backlynk worker`),
    so that the first big page does not pay for their start."""
    _ready_executor()


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


def is_big(size: int) -> bool:
    return size > OFF_LOOP_BYTES


async def run(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(*args)` in a worker process. `work` is a module-level function (it is sent
    to the process by name) and its arguments and answer are cheap to send (bytes)."""
    loop = asyncio.get_running_loop()
    pool = _pool if _pool is not None else await asyncio.to_thread(_ready_executor)
    try:
        return await loop.run_in_executor(pool, _call, work, args, kwargs)
    except BrokenProcessPool:
        # a worker died (killed, out of memory): start afresh, and do this one in a thread
        _discard(pool)
        return await asyncio.to_thread(work, *args, **kwargs)


def _call(work: Callable[..., T], args: tuple, kwargs: dict) -> T:
    return work(*args, **kwargs)


def shutdown() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
