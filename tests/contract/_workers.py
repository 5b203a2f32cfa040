"""Functions run in spawned child processes by the contract suites."""

from __future__ import annotations

import sys
import time

import hotsync

from ._kinds import lock_like


def _client(url, prefix):
    return hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False)


def hold_and_hang(url, prefix, kind, key, lease, ready_key):
    """Take the lock-like, report it, then hang (to be SIGKILLed)."""
    c = _client(url, prefix)
    obj = lock_like(kind, key, c, lease)
    assert obj.acquire(timeout=30)
    c.redis.set(f"{prefix}{ready_key}", "1")
    time.sleep(3600)


def count_inside(url, prefix, kind, key, rounds, start_key):
    """Critical sections around a non-atomic GET/SET counter and an INCR/DECR of who is inside."""
    c = _client(url, prefix)
    r = c.redis
    obj = lock_like(kind, key, c, 10.0)
    r.incr(f"{prefix}ready")
    while r.get(f"{prefix}{start_key}") is None:
        time.sleep(0.001)
    most = 0
    for _ in range(rounds):
        with obj:
            most = max(most, r.incr(f"{prefix}inside"))
            value = int(r.get(f"{prefix}counter") or 0)
            r.set(f"{prefix}counter", value + 1)
            r.decr(f"{prefix}inside")
    r.rpush(f"{prefix}most", most)
    sys.exit(0)
