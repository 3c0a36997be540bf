"""Wiring built once: one container of ports per process, one clock, settings read once
(by the entry point, never at import), and projections listed without a queue client."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adapters.settings import Settings, load
from adapters.wiring import wire
from projections.dispatcher import Dispatcher
from projections.registry import all_projections


async def test_every_port_reads_the_one_clock_and_the_one_repository(infra, settings):
    ports = wire(infra, settings)
    try:
        clocks = [
            ports.clock,
            ports.auth.clock,
            ports.jobs.clock,
            ports.checks.clock,
            ports.site_urls.clock,
        ]
        assert all(c is infra.clock for c in clocks)
        repositories = [ports.auth.repository, ports.sites.repository, ports.jobs.repository]
        assert all(r is infra.repository for r in repositories)
        assert ports.auth is ports.auth  # built once
    finally:
        await ports.close()


async def test_a_worker_is_wired_without_a_jwt_secret(infra, settings):
    """Only the web app signs tokens: the worker's container never asks for the secret."""
    import msgspec

    bare = msgspec.structs.replace(settings, dev=False, jwt_secret="")
    ports = wire(infra, bare)
    try:
        assert ports.jobs.repository is infra.repository
    finally:
        await ports.close()


def test_every_setting_left_unset_is_the_structs_default():
    assert load({}) == Settings()


def test_importing_the_worker_settings_reads_no_environment():
    """`backlynk worker` loads the settings once and hands them to arq; a bad variable
    cannot break an import."""
    env = {"PATH": "", "PORT": "not a port", "BACKLYNK_JOB_TIMEOUT": "0"}
    done = subprocess.run(
        [sys.executable, "-c", "import workers.settings"], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()


def test_worker_options_come_from_the_settings_given():
    from workers.settings import worker_options

    s = load({"BACKLYNK_REDIS_NAMESPACE": "ns1", "BACKLYNK_JOB_TIMEOUT": "33"})
    options = worker_options(s)
    assert (options["queue_name"], options["job_timeout"]) == ("ns1:queue", 33)
    assert options["ctx"]["settings"] is s


async def test_projections_listed_without_a_queue_cannot_enqueue():
    listed = all_projections()
    assert [p.name for p in listed][-1] == "dispatcher"
    [dispatcher] = [p for p in listed if isinstance(p, Dispatcher)]
    with pytest.raises(RuntimeError):
        dispatcher.queue  # noqa: B018 - no Redis client was made for listing
