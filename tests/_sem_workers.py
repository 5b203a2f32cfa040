"""Functions run in spawned child processes by the semaphore and rate-limiter tests."""

from __future__ import annotations

import sys
import time

import hotsync


def _client(url, prefix):
    return hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False)


def _start_together(r, prefix, start_key):
    r.incr(f"{prefix}ready")
    while r.get(f"{prefix}{start_key}") is None:
        time.sleep(0.001)


def inside_counter_worker(url, prefix, kind, value, fair, rounds, hold, start_key):
    """Acquire/release ``rounds`` times; count who is inside with INCR/DECR in Redis."""
    c = _client(url, prefix)
    r = c.redis
    sem = getattr(hotsync, kind)(value, "inside-sem", c, lease=10, fair=fair)
    _start_together(r, prefix, start_key)
    most = 0
    for _ in range(rounds):
        with sem:
            now_inside = r.incr(f"{prefix}inside")
            most = max(most, now_inside)
            time.sleep(hold)
            r.decr(f"{prefix}inside")
    r.rpush(f"{prefix}most", most)
    sys.exit(0)


def hold_permits_and_hang(url, prefix, key, value, permits, lease, ready_key, fair=False):
    """Take ``permits`` permits, report, then hang (to be SIGKILLed)."""
    c = _client(url, prefix)
    sem = hotsync.Semaphore(value, key, c, lease=lease, fair=fair)
    for _ in range(permits):
        sem.acquire()
    c.redis.set(f"{prefix}{ready_key}", "1")
    time.sleep(3600)


def wait_in_fair_line(url, prefix, key, value, lease, ready_key):
    """Join a fair semaphore's line, report, and block there (to be SIGKILLed)."""
    c = _client(url, prefix)
    sem = hotsync.Semaphore(value, key, c, lease=lease, fair=True)
    c.redis.set(f"{prefix}{ready_key}", "1")
    sem.acquire()
    c.redis.set(f"{prefix}{ready_key}:acquired", "1")
    time.sleep(3600)


def hammer_rate_limiter(url, prefix, rate, burst, seconds, blocking, start_key):
    """Ask a shared RateLimiter for admissions for ``seconds``; report how many were admitted."""
    c = _client(url, prefix)
    r = c.redis
    limiter = hotsync.RateLimiter(rate, burst=burst, key="fleet", client=c)
    _start_together(r, prefix, start_key)
    end = time.monotonic() + seconds
    admitted = asked = 0
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        asked += 1
        if blocking:
            if limiter.acquire(timeout=left):
                admitted += 1
        elif limiter.try_acquire():
            admitted += 1
    r.rpush(f"{prefix}admitted", admitted)
    r.rpush(f"{prefix}asked", asked)
    sys.exit(0)


def churn_permit(url, prefix, key, value, rounds, seed, start_key):
    """Acquire and release one permit ``rounds`` times, holding it and pausing 0-4 ms."""
    import random

    rng = random.Random(seed)
    c = _client(url, prefix)
    sem = hotsync.Semaphore(value, key, c, lease=10)
    _start_together(c.redis, prefix, start_key)
    for _ in range(rounds):
        assert sem.acquire(timeout=30)
        time.sleep(rng.random() * 0.004)
        sem.release()
        time.sleep(rng.random() * 0.004)
    sys.exit(0)
