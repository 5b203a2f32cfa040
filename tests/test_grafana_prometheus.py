"""Every PromQL expression of every dashboard returns data from a real Prometheus.

Prometheus (Debian's package; `.ci/run` installs it) scrapes the running
worker-pool example: each worker's metrics endpoint and the live-state exporter.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

from hotsync._demo import example_path

from ._prometheus import Prometheus, binary
from .test_grafana import expressions

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WORKERS = 3


@pytest.fixture
def prometheus_binary():
    found = binary()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed: .ci/run installs Debian's package")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    return found


def _instantiate(expr: str) -> str:
    """The dashboard's variables as Grafana would fill them with 'All'."""
    return expr.replace("$__rate_interval", "20s").replace("$name", ".*")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_run(n: int, avoid: range = range(0)) -> int:
    """The first of *n* consecutive ports, all free now, below the kernel's ephemeral range.

    The example binds ``--metrics-port + i`` for each worker; ports from the ephemeral
    range (what ``bind(0)`` returns) can be taken meanwhile by any outgoing connection
    of a busy suite (seen as EADDRINUSE in CI), ports below it only by another listener.
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000)
        ports = range(base, base + n)
        if not any(p in avoid for p in ports) and all(_bindable(p) for p in ports):
            return base
    raise RuntimeError(f"no {n} consecutive free ports found")


def test_every_dashboard_query_returns_data_from_the_running_example(prometheus_binary, redis_url):
    metrics_port = _free_run(WORKERS)
    exporter_port = _free_run(1, avoid=range(metrics_port, metrics_port + WORKERS))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    example = subprocess.Popen(
        [sys.executable, str(example_path()), "--redis", redis_url, "--rate", "100", "local", "--jobs", "2500",
         "--workers", str(WORKERS), "--metrics-port", str(metrics_port), "--exporter-port", str(exporter_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    targets = [f"127.0.0.1:{exporter_port}"] + [f"127.0.0.1:{metrics_port + i}" for i in range(WORKERS)]
    prom = Prometheus(targets).start()
    try:
        deadline = time.monotonic() + 90
        while not prom.targets_up():
            assert example.poll() is None, example.stdout.read()
            assert time.monotonic() < deadline, prom.api("targets")
            time.sleep(0.5)
        time.sleep(8)  # several scrapes, so that rate() over 20s has points
        assert example.poll() is None, "the example finished before the queries ran"
        empty = []
        for dash, title, expr in expressions():
            if not prom.query(_instantiate(expr)):
                empty.append(f"{dash} / {title}: {expr}")
        assert not empty, "queries without data:\n" + "\n".join(empty)
    finally:
        prom.stop()
        example.terminate()  # the example stops its workers on SIGTERM
        try:
            example.wait(30)
        finally:
            try:
                os.killpg(example.pid, signal.SIGKILL)  # and anything of its session still alive
            except ProcessLookupError:
                pass
