"""Lock and RLock against threading's, side by side: same results, same errors."""

from __future__ import annotations

import threading

import pytest

import hotsync

from ._parity import in_another_thread, same





BAD_ARGS = [
    ((False, 1), {}),
    ((), {"timeout": -2}),
    ((), {"timeout": 1e20}),
    ((), {"timeout": float("inf")}),
    ((), {"timeout": float("nan")}),
    ((True, "x"), {}),
    ((None,), {}),
    ((False, 0), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), BAD_ARGS)
@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_bad_acquire_arguments_raise_what_threading_raises(client, kind, args, kwargs):
    std, hot = getattr(threading, kind)(), getattr(hotsync, kind)("p", client)
    same(lambda: std.acquire(*args, **kwargs), lambda: hot.acquire(*args, **kwargs))


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_release_of_an_unheld_lock_raises_what_threading_raises(client, kind):
    std, hot = getattr(threading, kind)(), getattr(hotsync, kind)("p", client)
    same(std.release, hot.release)


def test_lock_sequence_matches_threading(client):
    std, hot = threading.Lock(), hotsync.Lock("seq", client)
    steps = [
        lambda l: l.acquire(),
        lambda l: l.locked(),
        lambda l: l.acquire(False),
        lambda l: l.acquire(timeout=0.05),
        lambda l: l.acquire(blocking=False, timeout=-1),
        lambda l: l.acquire(1, 0.01),
        lambda l: l.release(),
        lambda l: l.locked(),
        lambda l: l.acquire(blocking=False),
        lambda l: l.release(),
        lambda l: l.release(),
        lambda l: l.acquire(timeout=0),
        lambda l: l.release(),
    ]
    for step in steps:
        same(lambda: step(std), lambda: step(hot))


def test_rlock_sequence_matches_threading(client):
    std, hot = threading.RLock(), hotsync.RLock("rseq", client)
    steps = [
        lambda l: l.acquire(),
        lambda l: l.acquire(False),
        lambda l: l.acquire(timeout=0.05),
        lambda l: l.release(),
        lambda l: l.release(),
        lambda l: l.release(),
        lambda l: l.release(),
        lambda l: l.acquire(blocking=False),
        lambda l: l.release(),
    ]
    for step in steps:
        same(lambda: step(std), lambda: step(hot))


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_another_thread_cannot_take_a_held_lock(client, kind):
    std, hot = getattr(threading, kind)(), getattr(hotsync, kind)("t", client)
    std.acquire()
    hot.acquire()
    std_got, hot_got = in_another_thread(lambda: std.acquire(timeout=0.05), lambda: hot.acquire(timeout=0.05))
    assert std_got == hot_got == ("ok", False)


def test_rlock_release_from_another_thread_raises_like_threading(client):
    std, hot = threading.RLock(), hotsync.RLock("rt", client)
    std.acquire()
    hot.acquire()
    std_got, hot_got = in_another_thread(std.release, hot.release)
    assert std_got == (RuntimeError, "cannot release un-acquired lock")
    assert issubclass(hot_got[0], RuntimeError) and hot_got[1] == std_got[1]
    assert hot.owned()


def test_lock_may_be_released_by_another_thread_as_in_threading(client):
    std, hot = threading.Lock(), hotsync.Lock("x", client)
    std.acquire()
    hot.acquire()
    std_got, hot_got = in_another_thread(std.release, hot.release)
    assert std_got == hot_got == ("ok", None)


def test_other_object_on_the_same_key_cannot_release(client):
    a, b = hotsync.Lock("same", client), hotsync.Lock("same", client)
    a.acquire()
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        b.release()
    assert a.owned() and not b.owned()
    a.release()


def test_context_manager_binds_the_lock_and_releases(client):
    lock = hotsync.Lock("cm", client)
    with lock as bound:
        assert bound is lock and lock.owned() and lock.token == 1
    assert not lock.locked() and lock.token is None


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_threading_condition_works_over_it_as_over_the_stdlib_lock(client, kind):
    for lock in (getattr(threading, kind)(), getattr(hotsync, kind)(f"cond-{kind}", client)):
        cond = threading.Condition(lock)
        with pytest.raises(RuntimeError, match="cannot notify on un-acquired lock"):
            cond.notify()
        items: list[int] = []

        def produce():
            with cond:
                items.append(1)
                cond.notify()

        with cond:
            if kind == "RLock":
                lock.acquire()  # two levels: wait() releases both, and restores both
            t = threading.Thread(target=produce)
            t.start()  # it can take the lock only while wait() has released it
            assert cond.wait_for(lambda: items, timeout=5)
            if kind == "RLock":
                lock.release()
        t.join(5)
        assert items == [1]
        if isinstance(lock, hotsync.RLock | hotsync.Lock):
            assert not lock.locked()  # every level released: nothing left held in Redis


def test_a_condition_does_not_take_a_hold_elsewhere_for_its_own(client):
    holder = hotsync.Lock("cond-held", client)
    holder.acquire()  # held by another owner, as by another host
    cond = threading.Condition(hotsync.Lock("cond-held", client))
    with pytest.raises(RuntimeError, match="cannot notify on un-acquired lock"):
        cond.notify()
    holder.release()
