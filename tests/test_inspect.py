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


def test_one_object_whose_key_now_holds_another_type_does_not_hide_the_others(client, raw, prefix, redis_url):
    hotsync.Lock("healthy", client).acquire()
    hotsync.Lock("reused", client).acquire()  # indexed, then the key is taken for something else
    raw.delete(f"{prefix}reused")
    raw.set(f"{prefix}reused", "a user's text")
    states = {s.key: s.state for s in inspect(client)}
    assert states[f"{prefix}healthy"]["locked"] is True
    assert "WrongTypeError" in states[f"{prefix}reused"]["error"]
    registry = CollectorRegistry()
    registry.register(LiveStateCollector(client))
    assert registry.get_sample_value("hotsync_exporter_up") == 1
    assert registry.get_sample_value("hotsync_lock_held", {"kind": "lock", "name": f"{prefix}healthy"}) == 1
    out = _cli("inspect", "--prefix", prefix, url=redis_url)
    assert out.returncode == 0, out.stderr
    assert "WrongTypeError" in out.stdout and "healthy" in out.stdout


def test_exporter_reports_down_when_redis_is_unreachable():
    c = hotsync.HotClient.from_url("redis://127.0.0.1:1/0", metrics=False, retry=hotsync.RetryPolicy(budget=0))
    registry = CollectorRegistry()
    registry.register(LiveStateCollector(c))
    assert registry.get_sample_value("hotsync_exporter_up") == 0


def _dead_queue(client, n=2):
    q = hotsync.Queue(key="jobs", client=client, max_attempts=1)
    q.put_many([{"job": i} for i in range(n)])
    for _ in range(n):
        msg = q.reserve(timeout=5)
        msg.nack()  # the first delivery was the last allowed: dead letter
    return q


def test_cli_dead_letters_lists_replays_and_purges(client, redis_url, prefix):
    q = _dead_queue(client)
    out = _cli("dead-letters", "jobs", "--prefix", prefix, url=redis_url)
    assert out.returncode == 0, out.stderr
    assert "2 dead letter(s)" in out.stdout and '{"job": 0}' in out.stdout and "attempts 1" in out.stdout
    data = json.loads(_cli("dead-letters", "jobs", "--prefix", prefix, "--json", url=redis_url).stdout)
    assert [d["value"] for d in data] == [{"job": 0}, {"job": 1}]
    out = _cli("dead-letters", "jobs", "--prefix", prefix, "--replay", url=redis_url)
    assert "replayed 2" in out.stdout
    assert q.qsize() == 2 and q.dead_count() == 0
    for _ in range(2):
        q.reserve(timeout=5).nack()
    assert "purged 2" in _cli("dead-letters", "jobs", "--prefix", prefix, "--purge", url=redis_url).stdout
    assert q.dead_count() == 0 and q.qsize() == 0


def test_cli_requeue_redelivers_a_dead_consumers_messages(client, redis_url, prefix):
    from ._helpers import kill9, start, wait_for
    from ._workers import reserve_and_hang as _reserve_and_hang

    import time

    q = hotsync.Queue(key="work", client=client, lease=3.0)
    q.put({"job": 1})
    victim = start(_reserve_and_hang, redis_url, prefix, "work", 3.0)
    wait_for(lambda: client.redis.get(f"{prefix}reserved") is not None, 60, "the consumer reserved")
    kill9(victim)
    killed = time.monotonic()
    assert q.qsize() == 0
    out = _cli("requeue", "work", "--prefix", prefix, url=redis_url)
    assert out.returncode == 0 and "requeued 0" in out.stdout  # its 3 s lease has not run out yet
    time.sleep(max(3.3 - (time.monotonic() - killed), 0))
    out = _cli("requeue", "work", "--prefix", prefix, url=redis_url)
    assert out.returncode == 0 and "requeued 1 in-flight message(s) of expired consumers" in out.stdout
    msg = q.reserve(timeout=5)
    assert msg.value == {"job": 1} and msg.attempts == 2
    msg.ack()


def test_inspect_describes_semaphores_and_rate_limiters(client, prefix):
    sem = hotsync.Semaphore(3, key="upstream", client=client)
    sem.acquire()
    api = hotsync.RateLimiter(10, key="api", client=client, burst=2)
    hotsync.RateLimiter(5, key="idle-api", client=client)
    assert api.try_acquire()
    states = {s.key: s.state for s in inspect(client)}
    up = states[f"{prefix}upstream"]
    assert (up["capacity"], up["in_use"], up["waiting"]) == (3, 1, 0)
    assert states[f"{prefix}api"]["active"] and states[f"{prefix}api"]["rate"] == pytest.approx(10)
    assert states[f"{prefix}idle-api"] == {"active": False}
    registry = CollectorRegistry()
    registry.register(LiveStateCollector(client))
    labels = {"kind": "semaphore", "name": f"{prefix}upstream"}
    assert registry.get_sample_value("hotsync_semaphore_permits_held", labels) == 1
    assert registry.get_sample_value("hotsync_semaphore_capacity", labels) == 3


def test_cli_replays_a_large_dead_letter_queue_in_chunks(client, redis_url, prefix):
    q = hotsync.Queue(key="big", client=client, max_attempts=1)
    q.put_many(range(2500))
    for msg in iter(lambda: q.reserve(block=False) if q.qsize() else None, None):
        msg.nack()
    assert q.dead_count() == 2500
    out = _cli("dead-letters", "big", "--prefix", prefix, "--replay", url=redis_url)
    assert "replayed 2500 dead letter(s)" in out.stdout, out.stdout + out.stderr
    assert q.qsize() == 2500 and q.dead_count() == 0
