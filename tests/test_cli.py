from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _run(args, env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOTSYNC_REDIS_URL")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "hotsync", *args], env=env, capture_output=True, text=True,
                          timeout=240)


def test_demo_runs_the_worker_pool_and_loses_nothing(redis_url):
    out = _run(["demo", "--workers", "3", "--jobs", "120"], {"REDIS_URL": redis_url})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: nothing lost" in out.stdout
    assert "SIGKILLed worker" in out.stdout  # the chaos step ran and nothing was lost anyway
    assert re.search(r"fencing tokens monotonic\s+yes", out.stdout)
    assert re.search(r"\n\s+lost\s+0\n", out.stdout)
    assert re.search(r"ledger \(lock-protected sum\)\s+([\d,]+) of \1 expected", out.stdout)


def test_demo_without_redis_url_starts_an_embedded_server():
    out = _run(["demo", "--workers", "2", "--jobs", "40", "--no-chaos"], {})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "started an embedded Redis" in out.stdout
    assert "OK: nothing lost" in out.stdout


def test_unknown_command_exits_with_usage():
    out = _run(["frobnicate"], {})
    assert out.returncode == 2 and "usage" in out.stderr
