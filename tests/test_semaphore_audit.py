"""Audit of Semaphore handoffs: more callers holding permits than the capacity, a
stalled holder's release freeing someone else's permit, and a free permit reserved
for nobody."""

from __future__ import annotations

import threading
import time

import pytest

import hotsync


def _wait_until(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def _make_contended(sem, client, key, value, lease):
    """Make ``sem`` see contention once (its next acquire takes the pipelined path)."""
    blocker = hotsync.Semaphore(value, key, client, lease=lease)
    blocker.acquire()
    blocker.acquire()
    assert not sem.acquire(timeout=0.05)
    assert sem._contended
    blocker.release(2)


def test_a_pipelined_acquire_cannot_pop_a_handoff_whose_permit_another_acquire_already_reclaimed(client, raw):
    lease = 0.3
    b, c, d = (hotsync.Semaphore(2, "phantom", client, lease=lease) for _ in range(3))
    for sem in (b, c, d):
        _make_contended(sem, client, "phantom", 2, lease)
    h1 = hotsync.Semaphore(2, "phantom", client, lease=lease)
    h2 = hotsync.Semaphore(2, "phantom", client, lease=lease)
    h1.acquire()
    h2.acquire()
    raw.zadd(h1._waiters_key, {"ghost/1": 2**52, "ghost/2": 2**52})  # registered waiters that died
    h1.release()  # a handoff for a ghost (~h:1): nobody pops it
    time.sleep(lease * 2 / 3)
    h2.release()  # another (~h:2); it keeps the handoffs zset alive
    time.sleep(lease / 2)  # ~h:1's permit lease has ended, ~h:2's has not
    got = []
    try:
        got.append(b.acquire(timeout=1))  # pipelined try: reclaims ~h:1's ended permit
        got.append(c.acquire(timeout=0.1))
        got.append(d.acquire(timeout=0.1))
        # two permits: b and ~h:2 (popped by c) at most; d must not pop ~h:1,
        # a handoff whose permit is no longer in the permits zset
        assert got == [True, True, False]
    finally:
        for sem in (b, c, d):
            if sem.held:
                try:
                    sem.release(sem.held)
                except hotsync.LockNotOwnedError:
                    pass


def test_a_handoff_popped_late_in_its_window_gives_its_taker_a_full_lease(client, raw):
    lease = 1.5
    holder = hotsync.Semaphore(1, "late", client, lease=lease)
    holder.acquire()
    # a waiter with this lease registered once (meta.maxlease), so no stretch happens below
    assert not hotsync.Semaphore(1, "late", client, lease=lease).acquire(timeout=0.05)
    raw.zadd(holder._waiters_key, {"ghost/1": 2**52})  # a registered waiter that died
    holder.release()  # a handoff living one lease, for the ghost
    time.sleep(lease - 0.3)  # still inside its take-by window
    late = hotsync.Semaphore(1, "late", client, lease=lease)
    assert late.acquire(timeout=1)  # pops it: 0.3 s of its lease are left in Redis
    assert late.held == 1 and not late.lost.is_set()
    other = hotsync.Semaphore(1, "late", client, lease=lease)
    try:
        # late's first renewal comes lease / 3 after its pop, after the permit ended:
        # other must not be granted a permit while late holds the only one
        got = other.acquire(timeout=0.6)
        assert not (got and not late.lost.is_set()), "two holders of a semaphore of one"
        assert not got
    finally:
        if other.held:
            other.release()
        try:
            late.release()
        except hotsync.LockNotOwnedError:
            pass


def test_a_waiter_served_by_a_handoff_leaves_no_registration_that_reserves_a_later_release(client, raw):
    holder = hotsync.Semaphore(1, "stale", client)
    holder.acquire()
    w1 = hotsync.Semaphore(1, "stale", client)
    w2 = hotsync.Semaphore(1, "stale", client)
    got = {}
    t1 = threading.Thread(target=lambda: got.setdefault("w1", w1.acquire(timeout=10)))
    t1.start()
    assert _wait_until(lambda: raw.zcard(holder._waiters_key) == 1)
    time.sleep(0.1)  # w1 blocks first, so Redis serves it first
    t2 = threading.Thread(target=lambda: got.setdefault("w2", w2.acquire(timeout=1)))
    t2.start()
    assert _wait_until(lambda: raw.zcard(holder._waiters_key) == 2)
    time.sleep(0.1)
    holder.release()  # one handoff: w1 pops it
    t1.join(10)
    t2.join(10)
    assert got == {"w1": True, "w2": False}
    w1.release()  # nobody holds a permit, nobody waits
    assert hotsync.Semaphore(1, "stale", client).acquire(False), "a free permit stayed reserved for nobody"


def test_a_stalled_holder_of_a_reclaimed_handoff_cannot_release_a_new_handoff_of_the_same_name(client, raw):
    lease = 0.3
    h = hotsync.Semaphore(1, "reuse", client, lease=lease)
    h.acquire()
    raw.zadd(h._waiters_key, {"ghost/1": 2**52})
    h.release()  # a pending handoff
    x = hotsync.Semaphore(1, "reuse", client, lease=lease, auto_renew=False)  # will stall
    assert x.acquire(timeout=1)
    (stalled,) = [p.member for p in x._permits]
    assert stalled.startswith("~h:")
    time.sleep(1.0)  # x's lease ends
    z = hotsync.Semaphore(1, "reuse", client, lease=lease)
    assert z.acquire(False)  # reclaims x's permit
    z.release()
    raw.delete(h._meta_key)  # settings deleted (supported: the next acquire stores them again)
    h.acquire()
    raw.zadd(h._waiters_key, {"ghost/2": 2**52})
    h.release()
    y = hotsync.Semaphore(1, "reuse", client, lease=lease)
    assert y.acquire(timeout=1)  # pops a new handoff
    try:
        with pytest.raises(hotsync.LockNotOwnedError):
            x.release()  # its permit was reclaimed long ago
        assert not hotsync.Semaphore(1, "reuse", client, lease=lease).acquire(False), "y's permit was freed by x"
    finally:
        y.release()


def test_a_second_handoff_made_while_a_served_waiter_unregisters_is_reclaimed_by_a_non_blocking_try(client, raw):
    from hotsync.semaphore import _RELEASE

    a, b, w, c = (hotsync.Semaphore(2, "surplus", client, lease=10) for _ in range(4))
    assert a.acquire() and b.acquire()
    held = [m.decode() for m in raw.zrange(a._main, 0, -1)]
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("w", w.acquire(timeout=8)))
    t.start()
    assert _wait_until(lambda: raw.zcard(a._waiters_key) == 1)
    time.sleep(0.2)  # w blocks in its BZPOPMIN
    keys = (a._main, a._meta_key, a._waiters_key, a._no_done_key, a._handoffs_key, a._line_key, a._tickets_key)
    args = (0, a._lease_ms, a._mark_ms, a._handoff_ms, a._value_arg, a._stored_kind, a._wait_prefix)
    pipe = raw.pipeline(transaction=False)
    for member in held:  # both releases in one event-loop turn: the second runs before w's ZREM
        pipe.eval(_RELEASE.body, len(keys), *keys, *args, member)
    pipe.execute()
    t.join(10)
    assert got == {"w": True}
    assert raw.zcard(a._handoffs_key) == 1 and raw.zcard(a._waiters_key) == 0  # one handoff for nobody
    assert c.acquire(blocking=False), "a free permit stayed reserved for nobody"
    assert raw.zcard(a._main) == 2  # w's and c's: never more than the capacity
