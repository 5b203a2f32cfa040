"""Semaphores across OS processes: the capacity holds, crashed holders' permits come back."""

from __future__ import annotations

import time

import pytest

import hotsync

from . import _sem_workers as workers
from ._helpers import join_all, kill9, start, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("kind", "fair"), [("Semaphore", False), ("Semaphore", True), ("BoundedSemaphore", False)]
)
def test_five_processes_never_have_more_than_two_inside_a_semaphore_of_two(client, raw, prefix, redis_url, kind, fair):
    procs, rounds = 5, 40
    hold = 0.003
    ws = [start(workers.inside_counter_worker, redis_url, prefix, kind, 2, fair, rounds, hold, "go") for _ in range(procs)]
    wait_for(lambda: int(raw.get(f"{prefix}ready") or 0) == procs, 60, "workers ready")
    raw.set(f"{prefix}go", 1)
    join_all(ws, 120)
    most = [int(m) for m in raw.lrange(f"{prefix}most", 0, -1)]
    assert len(most) == procs
    assert max(most) == 2  # measured in Redis: never more than two inside, and two did get in together
    assert int(raw.get(f"{prefix}inside")) == 0
    stats = getattr(hotsync, kind)(2, "inside-sem", client).statistics()
    assert (stats.in_use, stats.value) == (0, 2)


def test_both_permits_of_a_sigkilled_holder_come_back_within_lease_plus_one_second(client, raw, prefix, redis_url):
    lease = 1.0
    holder = start(workers.hold_permits_and_hang, redis_url, prefix, "crash", 2, 2, lease, "held")
    wait_for(lambda: raw.get(f"{prefix}held") is not None, 60, "holder")
    sem = hotsync.Semaphore(2, "crash", client)
    assert not sem.acquire(False)  # both permits are held (and renewed) by the holder
    time.sleep(lease * 1.5)
    assert not sem.acquire(False)  # still held after more than a lease: renewal works
    kill9(holder)
    killed_at = time.monotonic()
    assert sem.acquire(timeout=lease + 5)  # a blocked waiter: woken by the lease end, no release
    assert sem.acquire(timeout=lease + 5)
    assert time.monotonic() - killed_at <= lease + 1.0
    assert sem.statistics().in_use == 2
    sem.release(2)


def test_a_sigkilled_fair_waiter_does_not_block_the_line(client, raw, prefix, redis_url):
    lease = 1.0
    holder = hotsync.Semaphore(1, "fline", client, lease=lease, fair=True)
    holder.acquire()
    ghost = start(workers.wait_in_fair_line, redis_url, prefix, "fline", 1, lease, "ghost")
    wait_for(lambda: raw.zcard(holder._line_key) == 1, 60, "ghost in line")
    kill9(ghost)  # first in line, then dead
    holder.release()  # wakes the ghost, which never comes
    start_wait = time.monotonic()
    nxt = hotsync.Semaphore(1, "fline", client, lease=lease, fair=True)
    assert nxt.acquire(timeout=lease * 4 + 5)
    assert time.monotonic() - start_wait <= lease + 1.5  # the ghost's ticket lapses within one lease
    assert raw.get(f"{prefix}ghost:acquired") is None
    nxt.release()
