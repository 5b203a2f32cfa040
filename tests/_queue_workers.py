"""Functions run in child processes by the multi-process queue tests (spawned)."""

from __future__ import annotations

import sys
import time

import hotsync


def _client(url, prefix, **kw):
    return hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False, **kw)


def _wait_go(c, prefix):
    c.redis.incr(f"{prefix}ready")
    while c.redis.get(f"{prefix}go") is None:
        time.sleep(0.001)


def producer(url, prefix, kind, key, first, count):
    c = _client(url, prefix)
    q = getattr(hotsync, kind)(key=key, client=c)
    _wait_go(c, prefix)
    for i in range(first, first + count):
        q.put((i % 5, i) if kind == "PriorityQueue" else i)
    sys.exit(0)


def consumer(url, prefix, kind, key, log_key):
    """reserve/ack until a None item arrives; log every value acked."""
    c = _client(url, prefix)
    q = getattr(hotsync, kind)(key=key, client=c, lease=2)
    _wait_go(c, prefix)
    while True:
        with q.reserve(timeout=60) as msg:
            value = msg.value[1] if isinstance(msg.value, tuple) else msg.value
            if value is None:
                break
            c.redis.rpush(f"{prefix}{log_key}", value)
    sys.exit(0)


def getter(url, prefix, kind, key, n, pause):
    """get n items, then mark them done one by one."""
    c = _client(url, prefix)
    q = getattr(hotsync, kind)(key=key, client=c)
    items = [q.get(timeout=60) for _ in range(n)]
    time.sleep(pause)
    for _ in items:
        q.task_done()
    sys.exit(0)


def hold_message(url, prefix, kind, key, lease, max_attempts, ready_key):
    """Reserve one message, report its id and attempts, then hang (to be SIGKILLed)."""
    c = _client(url, prefix)
    q = getattr(hotsync, kind)(key=key, client=c, lease=lease, max_attempts=max_attempts)
    msg = q.reserve(timeout=60)
    c.redis.set(f"{prefix}{ready_key}", f"{msg.id} {msg.attempts}")
    time.sleep(3600)


def restart_producer(url, prefix, key, count):
    c = _client(url, prefix, socket_timeout=0.5, socket_connect_timeout=0.5, retry=hotsync.RetryPolicy(budget=30))
    q = hotsync.Queue(key=key, client=c)
    for i in range(count):
        q.put(i)
        time.sleep(0.002)
    sys.exit(0)


def restart_consumer(url, prefix, key, count, log_path):
    """reserve/ack count distinct values; log deliveries and acks (with their result) to a file."""
    c = _client(url, prefix, socket_timeout=0.5, socket_connect_timeout=0.5, retry=hotsync.RetryPolicy(budget=30))
    q = hotsync.Queue(key=key, client=c, lease=5)
    seen: set[int] = set()
    with open(log_path, "w", buffering=1) as log:
        while len(seen) < count:
            msg = q.reserve(timeout=60)
            log.write(f"d {msg.value} {time.time():.6f}\n")
            ok = msg.ack()
            log.write(f"a {msg.value} {int(ok)} {time.time():.6f}\n")
            seen.add(msg.value)
    sys.exit(0)


def stuck_consumer(url, prefix, kind, key, report_key, go_key, result_key):
    """Reserve one message (long lease), report it, wait for go, then ack it late and report the result."""
    c = _client(url, prefix)
    q = getattr(hotsync, kind)(key=key, client=c, lease=60, max_attempts=3)
    msg = q.reserve(timeout=60)
    c.redis.set(f"{prefix}{report_key}", f"{msg.id} {msg.attempts}")
    c.redis.blpop([f"{prefix}{go_key}"], 60)
    ok = msg.ack()
    c.redis.set(f"{prefix}{result_key}", int(ok))
    sys.exit(0)


def requeue_consumer(url, prefix, kind, key, consumer, result_key):
    """An operator process: requeue the messages of one consumer, report how many."""
    c = _client(url, prefix)
    q = getattr(hotsync, kind)(key=key, client=c, max_attempts=3)
    c.redis.set(f"{prefix}{result_key}", q.requeue_consumer(consumer))
    sys.exit(0)


def ledger_producer(url, prefix, kind, key, maxsize, first, count):
    """Each item: one transaction appending it to a ledger List and putting it into a
    bounded queue nobody drains; a transaction refused as full must write neither."""
    c = _client(url, prefix)
    q = getattr(hotsync, kind)(maxsize, key=key, client=c)
    ledger = hotsync.List(key=f"{key}:ledger", client=c)
    _wait_go(c, prefix)
    for i in range(first, first + count):
        try:
            with hotsync.transaction(c):
                ledger.append(i)
                q.put((0, i) if kind == "PriorityQueue" else i)
        except hotsync.TransactionError:
            c.redis.incr(f"{prefix}refused")
    sys.exit(0)


def trickle_producer(url, prefix, key, count, seed):
    """put 0..count-1 one by one, a random 0-6 ms apart (some land as a short get gives up)."""
    import random

    rng = random.Random(seed)
    c = _client(url, prefix)
    q = hotsync.Queue(key=key, client=c)
    _wait_go(c, prefix)
    for i in range(count):
        q.put(i)
        time.sleep(rng.random() * 0.006)
    sys.exit(0)
