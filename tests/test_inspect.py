"""Inspection, repair and the live-state exporter, against real state in Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import hotsync
from hotsync.exporter import LIVE_METRIC_NAMES, LiveStateCollector
from hotsync.inspect import inspect


def _cli(*args, url):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOTSYNC_REDIS_URL")}
    return subprocess.run([sys.executable, "-m", "hotsync", *args, "--redis", url], env=env,
                          capture_output=True, text=True, timeout=60)


def test_inspect_lists_holders_tokens_and_waiters(client, prefix):
    held = hotsync.Lock("jobs:leader", client)
    held.acquire()
    rl = hotsync.RLock("cfg", client)
    rl.acquire()
    rl.acquire()
    with hotsync.Lock("idle", client):
        pass
    states = {s.key: s for s in inspect(client)}
    assert states[f"{prefix}idle"].state == {"locked": False, "holders": [], "token": 1, "lease_left": None,
                                             "waiting": 0}
    leader = states[f"{prefix}jobs:leader"].state
    assert leader["locked"] and leader["token"] == 1 and leader["holders"][0]["pid"] == os.getpid()
    assert 0 < leader["lease_left"] <= 30
    assert states[f"{prefix}cfg"].kind == "rlock" and states[f"{prefix}cfg"].state["holders"][0]["depth"] == 2
    assert [s.key for s in inspect(client, f"{prefix}jobs:*")] == [f"{prefix}jobs:leader"]


def test_cli_inspect_prints_a_table_and_json(client, redis_url, prefix):
    lock = hotsync.Lock("jobs:leader", client)
    lock.acquire()
    out = _cli("inspect", "--prefix", prefix, url=redis_url)
    assert out.returncode == 0, out.stderr
    assert f"lock  {prefix}jobs:leader  held by" in out.stdout and "token 1" in out.stdout
    out = _cli("inspect", "--prefix", prefix, "--json", url=redis_url)
    data = json.loads(out.stdout)
    assert data[0]["kind"] == "lock" and data[0]["state"]["holders"][0]["depth"] == 1


def test_cli_unlock_force_releases_audits_and_the_holder_learns(client, redis_url, prefix):
    lock = hotsync.Lock("stuck", client, lease=0.9)
    lock.acquire()
    out = _cli("unlock", "stuck", "--prefix", prefix, url=redis_url)
    assert out.returncode == 0, out.stderr
    assert "AUDIT force-released lock" in out.stdout and lock._hold.owner in out.stdout
    assert lock.lost.wait(3)
    with pytest.raises(hotsync.LockNotOwnedError):
        lock.release()
    assert hotsync.Lock("stuck", client).acquire(blocking=False)
    assert "not held" in _cli("unlock", "nothing", "--prefix", prefix, url=redis_url).stdout


def test_force_release_wakes_a_waiter(client):
    import threading

    holder = hotsync.Lock("fr", client)
    holder.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(hotsync.Lock("fr", client).acquire(timeout=10)))
    t.start()
    import time

    time.sleep(0.2)
    assert [h.depth for h in holder.force_release()] == [1]
    t.join(10)
    assert got == [True]


def test_cli_reports_an_unreachable_redis_clearly():
    out = _cli("inspect", url="redis://127.0.0.1:1/0")
    assert out.returncode == 2 and "cannot reach Redis at redis://127.0.0.1:1/0" in out.stderr


def test_exporter_collector_reads_live_lock_state(client, prefix):
    hotsync.Lock("exp", client).acquire()
    registry = CollectorRegistry()
    registry.register(LiveStateCollector(client))
    text = generate_latest(registry).decode()
    assert f'hotsync_lock_held{{kind="lock",name="{prefix}exp"}} 1.0' in text
    assert "hotsync_exporter_up 1.0" in text
    assert registry.get_sample_value("hotsync_exporter_objects", {"kind": "lock"}) == 1
    for name in LIVE_METRIC_NAMES:
        assert name.startswith("hotsync_")


def test_exporter_reports_down_when_redis_is_unreachable():
    c = hotsync.HotClient.from_url("redis://127.0.0.1:1/0", metrics=False, retry=hotsync.RetryPolicy(budget=0))
    registry = CollectorRegistry()
    registry.register(LiveStateCollector(c))
    assert registry.get_sample_value("hotsync_exporter_up") == 0
