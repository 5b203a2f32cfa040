"""Every PromQL expression of every dashboard returns data from a real Prometheus.

Prometheus (Debian's package; `.ci/run` installs it) scrapes the running
worker-pool example: each worker's metrics endpoint and the live-state exporter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from hotsync._demo import example_path
from hotsync._embedded import free_port

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


def test_every_dashboard_query_returns_data_from_the_running_example(prometheus_binary, redis_url):
    metrics_port, exporter_port = free_port(), free_port()
    while any(free_port() == p for p in range(metrics_port, metrics_port + WORKERS)):
        metrics_port = free_port()
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
