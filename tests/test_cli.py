from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _run(args, env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOTSYNC_REDIS_URL")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "hotsync", *args], env=env, capture_output=True, text=True, timeout=120)


def test_demo_against_a_given_redis_loses_no_update(redis_url):
    out = _run(["demo", "--workers", "3", "--rounds", "30"], {"REDIS_URL": redis_url})
    assert out.returncode == 0, out.stderr
    assert "lost updates              0" in out.stdout
    assert "fencing tokens monotonic  yes" in out.stdout
    assert "critical sections         90 of 90" in out.stdout


def test_demo_without_redis_url_starts_an_embedded_server():
    out = _run(["demo", "--workers", "2", "--rounds", "10"], {})
    assert out.returncode == 0, out.stderr
    assert "started an embedded Redis" in out.stdout
    assert "result                    OK" in out.stdout


def test_unknown_command_exits_with_usage():
    out = _run(["frobnicate"], {})
    assert out.returncode == 2 and "usage" in out.stderr
