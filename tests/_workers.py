"""Functions run in child processes by the multi-process tests (spawned)."""

from __future__ import annotations

import os
import sys
import time

import hotsync


def _client(url, prefix):
    return hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False)


def counter_worker(url, prefix, kind, fair, rounds, start_key):
    """Critical sections around a non-atomic GET/SET; log the fencing token of each."""
    c = _client(url, prefix)
    r = c.redis
    lock = getattr(hotsync, kind)("counter-lock", c, lease=10, fair=fair)
    # start together
    r.incr(f"{prefix}ready")
    while r.get(f"{prefix}{start_key}") is None:
        time.sleep(0.001)
    for _ in range(rounds):
        with lock:
            value = int(r.get(f"{prefix}counter") or 0)
            r.set(f"{prefix}counter", value + 1)
            r.rpush(f"{prefix}tokens", lock.token)
            r.rpush(f"{prefix}who", os.getpid())
    sys.exit(0)


def hold_and_wait(url, prefix, key, lease, ready_key):
    """Take a lock, report it, then hang (to be SIGKILLed)."""
    c = _client(url, prefix)
    lock = hotsync.Lock(key, c, lease=lease)
    lock.acquire()
    c.redis.set(f"{prefix}{ready_key}", lock.token)
    time.sleep(3600)


def hold_permit_and_wait(url, prefix, key, lease, ready_key, kind="Lock", fair=False):
    c = _client(url, prefix)
    lock = getattr(hotsync, kind)(key, c, lease=lease, fair=fair)
    lock.acquire()
    c.redis.set(f"{prefix}{ready_key}", "1")
    time.sleep(3600)


def wait_in_line(url, prefix, key, lease, ready_key, fair=True):
    """Wait for a lock (in a fair lock's line), report, and block there (to be SIGKILLed)."""
    c = _client(url, prefix)
    lock = hotsync.Lock(key, c, lease=lease, fair=fair)
    c.redis.set(f"{prefix}{ready_key}", "1")
    lock.acquire()
    c.redis.set(f"{prefix}{ready_key}:acquired", "1")
    time.sleep(3600)


def reserve_and_hang(url, prefix, key="work", lease=1.0):
    """Reserve one message of a queue, report it, then hang (to be SIGKILLed)."""
    c = _client(url, prefix)
    q = hotsync.Queue(key=key, client=c, lease=lease)
    q.reserve(timeout=30)
    c.redis.set(f"{prefix}reserved", "1")
    time.sleep(3600)


def handle_worker(lock, number, seen, queue, rounds):
    """Objects received pickled (spawn): a non-atomic increment under the lock."""
    seen.append(os.getpid())
    for i in range(rounds):
        with lock:
            value = number.value
            time.sleep(0.001)
            number.value = value + 1
        queue.put(i)
