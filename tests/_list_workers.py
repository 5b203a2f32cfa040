"""Functions run in child processes by the collection tests (spawned)."""

from __future__ import annotations

import json
import random
import sys
import time

import hotsync


def _client(url, prefix):
    return hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False)


def _start_together(c, prefix):
    r = c.redis
    r.incr(f"{prefix}ready")
    while r.get(f"{prefix}go") is None:
        time.sleep(0.001)


def append_and_add(url, prefix, worker, n):
    """Append n distinct values to List 'l', add n to Set 's', append n chars to String 't'."""
    c = _client(url, prefix)
    lst, s, text = hotsync.List(key="l", client=c), hotsync.Set(key="s", client=c), hotsync.String(key="t", client=c)
    _start_together(c, prefix)
    for i in range(n):
        lst.append([worker, i])
        s.add(f"{worker}:{i}")
        text += "a"
        time.sleep(0.002)  # gaps in which the racing sort() can win its compare-and-set
    sys.exit(0)


def insert_anywhere(url, prefix, worker, n, seed):
    """Insert n distinct values at random indexes of List 'l'; reverse it now and then."""
    c = _client(url, prefix)
    lst = hotsync.List(key="l", client=c)
    rnd = random.Random(seed)
    _start_together(c, prefix)
    for i in range(n):
        lst.insert(rnd.randint(-50, 50), [worker, i])
        if i % 25 == 0:
            lst.reverse()
    sys.exit(0)


def pop_anywhere(url, prefix, n, seed):
    """Pop n times at random indexes of List 'l'; log each popped value to the raw list 'popped'."""
    c = _client(url, prefix)
    lst = hotsync.List(key="l", client=c)
    rnd = random.Random(seed)
    _start_together(c, prefix)
    for _ in range(n):
        try:
            value = lst.pop(rnd.randint(-20, 20))
        except IndexError:
            continue
        c.redis.rpush(f"{prefix}popped", json.dumps(value))
    sys.exit(0)
