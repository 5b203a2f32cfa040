"""Locks across OS processes: mutual exclusion, fencing order, crashes (SIGKILL)."""

from __future__ import annotations

import time

import pytest

import hotsync

from . import _workers
from ._helpers import join_all, kill9, start, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("kind", "fair"), [("Lock", False), ("Lock", True), ("RLock", False)])
def test_five_processes_lose_no_update_and_tokens_follow_critical_section_order(
    client, raw, prefix, redis_url, kind, fair
):
    procs, rounds = 5, 60
    workers = [start(_workers.counter_worker, redis_url, prefix, kind, fair, rounds, "go") for _ in range(procs)]
    wait_for(lambda: int(raw.get(f"{prefix}ready") or 0) == procs, 60, "workers ready")
    raw.set(f"{prefix}go", 1)
    join_all(workers, 120)
    assert int(raw.get(f"{prefix}counter")) == procs * rounds  # no lost update
    tokens = [int(t) for t in raw.lrange(f"{prefix}tokens", 0, -1)]
    assert len(tokens) == procs * rounds
    assert all(a < b for a, b in zip(tokens, tokens[1:]))  # strictly increasing in CS order
    assert len(set(raw.lrange(f"{prefix}who", 0, -1))) == procs


def test_sigkilled_holder_frees_the_lock_within_lease_plus_one_second(client, raw, prefix, redis_url):
    lease = 1.0
    holder = start(_workers.hold_and_wait, redis_url, prefix, "crash", lease, "held")
    wait_for(lambda: raw.get(f"{prefix}held") is not None, 60, "holder")
    dead_token = int(raw.get(f"{prefix}held"))
    kill9(holder)
    killed_at = time.monotonic()
    lock = hotsync.Lock("crash", client)
    assert lock.acquire(timeout=lease + 5)
    assert time.monotonic() - killed_at <= lease + 1.0
    assert lock.token == dead_token + 1
    lock.release()


def test_sigkilled_fair_waiter_does_not_block_the_line(client, raw, prefix, redis_url):
    lease = 1.0
    holder = hotsync.Lock("line", client, lease=lease, fair=True)
    holder.acquire()
    ghost = start(_workers.wait_in_line, redis_url, prefix, "line", lease, "ghost")
    wait_for(lambda: raw.zcard(holder._line_key) == 1, 60, "ghost in line")
    kill9(ghost)  # first in line, then dead
    holder.release()  # hands over to the ghost, which never comes
    start_wait = time.monotonic()
    nxt = hotsync.Lock("line", client, lease=lease, fair=True)
    assert nxt.acquire(timeout=lease * 4 + 5)
    # the ghost's ticket lapses within one lease; then the next waiter proceeds
    assert time.monotonic() - start_wait <= lease + 1.5
    assert raw.get(f"{prefix}ghost:acquired") is None
    nxt.release()


def test_sigkilled_hungry_waiter_holds_a_grant_no_longer_than_its_registration(client, raw, prefix, redis_url):
    from hotsync import _lock_ops as lock_mod

    holder = hotsync.Lock("starved", client)  # lease 30 s
    holder.acquire()
    ghost = start(_workers.wait_in_line, redis_url, prefix, "starved", 30.0, "ghost", False)
    wait_for(lambda: raw.zcard(holder._waiters_key) == 1, 60, "ghost waiting")
    raw.lpush(holder._signal_key, "1")  # wake it: its next attempt is hungry and claims the next release
    wait_for(lambda: raw.hget(holder._fence_key, "hungry") is not None, 60, "ghost's claim")
    kill9(ghost)
    holder.release()  # granted to the ghost, who never comes
    assert raw.exists(holder._main) and raw.hget(holder._fence_key, "hungry") is None
    start_wait = time.monotonic()
    nxt = hotsync.Lock("starved", client)
    assert nxt.acquire(timeout=10)
    # the ghost registered for one hungry round plus 1 s of slack: the grant ends with it
    assert time.monotonic() - start_wait <= lock_mod._HUNGRY_ROUND + 1.0 + 0.5
    assert raw.get(f"{prefix}ghost:acquired") is None
    nxt.release()
