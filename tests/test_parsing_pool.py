"""The parsing processes (adapters.parsing_pool) never outlive the process they serve:
a web or worker process killed with -9 leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = pytest.mark.xdist_group("heavy")

ROOT = Path(__file__).resolve().parent.parent

SERVED = """
import sys, time
from adapters import parsing_pool
parsing_pool.warm()
print(*parsing_pool._pool._processes, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose (its parent has not reaped it yet)
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.timeout(120)
def test_parsing_processes_end_when_the_served_process_is_killed() -> None:
    served = subprocess.Popen(
        [sys.executable, "-c", SERVED], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert served.stdout
        workers = [int(pid) for pid in served.stdout.readline().split()]
        assert workers and all(alive(pid) for pid in workers)
        served.send_signal(signal.SIGKILL)
        served.wait(30)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)]
    finally:
        served.kill()
        served.wait(30)
