"""Functions run in spawned processes by the Int/Float/Counter concurrency tests."""

from __future__ import annotations

import sys
import time

import hotsync


def _client(url, prefix):
    return hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False)


def _start_together(c, start_key):
    c.redis.incr(f"{c.key_prefix}{start_key}:ready")
    deadline = time.monotonic() + 60
    while c.redis.get(f"{c.key_prefix}{start_key}") is None:
        if time.monotonic() > deadline:
            sys.exit(3)
        time.sleep(0.001)


def int_adder(url, prefix, key, rounds, start_key):
    """``x += 1`` (INCRBY) and ``x += 2`` then ``x -= 1`` ``rounds`` times each."""
    c = _client(url, prefix)
    x = hotsync.Int(key=key, client=c)
    _start_together(c, start_key)
    for _ in range(rounds):
        x += 1
        x *= 1  # a script-backed in-place operator interleaved with the native ones
        x += 2
        x -= 1
    sys.exit(0)


def float_adder(url, prefix, key, rounds, start_key):
    """``f += 0.5`` (Lua) ``rounds`` times: sums of halves are exact in doubles."""
    c = _client(url, prefix)
    f = hotsync.Float(key=key, client=c)
    _start_together(c, start_key)
    for _ in range(rounds):
        f += 0.5
    sys.exit(0)


def counter_updater(url, prefix, key, rounds, start_key, worker):
    """Alternate one-element updates (HINCRBY) and multi-element updates (script)."""
    c = _client(url, prefix)
    counter = hotsync.Counter(key=key, client=c)
    _start_together(c, start_key)
    for i in range(rounds):
        if i % 2:
            counter.update(["a"])
        else:
            counter.update({"a": 1, "b": 2, f"w{worker}": 1})
        counter.subtract(["b"])
    sys.exit(0)
