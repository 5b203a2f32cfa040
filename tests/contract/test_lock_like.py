"""One behaviour contract, run over every lock-like type (see ``_kinds.LOCK_LIKE``).

Whatever the implementation underneath (a lock key with direct grants, a fair
line, leased semaphore permits with handoffs), a holder must exclude everybody
else, across threads and processes; waiting must end on release, on timeout and
on a holder's crash; argument mistakes must raise what the stdlib counterpart
raises; and contention must leave nothing behind in Redis.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

import hotsync

from .._helpers import join_all, kill9, overshoot, start, wait_for
from . import _workers
from ._kinds import LOCK_LIKE, lock_like

KINDS = list(LOCK_LIKE)

#: calls whose outcome (return value, or exception type and message) must match the stdlib's
SAME_AS_STDLIB = [
    ((), {"blocking": False, "timeout": 1}),
    ((), {"timeout": -2}),
    ((), {"timeout": -1}),
    ((), {"timeout": 0}),
    ((False,), {}),
    ((), {"blocking": False}),
    ((), {"timeout": None}),
    ((), {"timeout": 0.05}),
]
#: calls where the stdlib raises; hotsync must raise the same (semaphores are stricter
#: than threading.Semaphore, which ignores a bad timeout when a permit is free)
STDLIB_RAISES_FOR_LOCKS = [((), {"timeout": "x"}), ((), {"timeout": float("nan")})]


def _outcome(obj, args, kwargs):
    try:
        return obj.acquire(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        return type(exc), str(exc)


def _elsewhere(fn, *args, **kwargs):
    """Run *fn* in another thread (another owner, also for an RLock) and return its result."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn(*args, **kwargs)))
    t.start()
    t.join(30)
    assert out, "the call in the other thread did not return"
    return out[0]


def _fresh(kind, client, lease=10.0):
    return lock_like(kind, f"c:{uuid.uuid4().hex[:8]}", client, lease)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("args", "kwargs"), SAME_AS_STDLIB, ids=repr)
def test_acquire_arguments_give_what_the_stdlib_counterpart_gives(client, kind, args, kwargs):
    stdlib = LOCK_LIKE[kind][1]()
    obj = _fresh(kind, client)
    assert _outcome(obj, args, kwargs) == _outcome(stdlib, args, kwargs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("args", "kwargs"), STDLIB_RAISES_FOR_LOCKS, ids=repr)
def test_a_timeout_the_stdlib_lock_rejects_is_rejected_with_the_same_exception_type(client, kind, args, kwargs):
    expected = _outcome(threading.Lock(), args, kwargs)
    got = _outcome(_fresh(kind, client), args, kwargs)
    assert isinstance(got, tuple), f"{kind}.acquire{args, kwargs} returned {got!r} instead of raising"
    assert got[0] is expected[0]
    if kind.startswith(("Lock", "RLock")):
        assert got == expected


@pytest.mark.parametrize("kind", KINDS)
def test_a_held_one_refuses_another_object_at_once_and_after_its_timeout(client, kind):
    key = f"c:{uuid.uuid4().hex[:8]}"
    holder, other = lock_like(kind, key, client), lock_like(kind, key, client)
    assert holder.acquire() is True
    assert _elsewhere(other.acquire, blocking=False) is False
    started = time.monotonic()
    assert _elsewhere(other.acquire, timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 3.0
    holder.release()
    assert _elsewhere(lambda: other.acquire(blocking=False) and (other.release() or True)) is True


@pytest.mark.parametrize("kind", KINDS)
def test_a_short_timeout_ends_the_wait_on_time_on_an_idle_server(slow_tick_client, kind):
    # Redis ends a blocked command's wait only when its event loop wakes, which an
    # idle server does once per 1/hz s: the client must not leave it to that tick
    key = f"c:{uuid.uuid4().hex[:8]}"
    holder, other = lock_like(kind, key, slow_tick_client), lock_like(kind, key, slow_tick_client)
    assert holder.acquire() is True

    def give_up(timeout):
        assert _elsewhere(other.acquire, timeout=timeout) is False

    assert overshoot(give_up) < 0.5
    holder.release()


@pytest.mark.parametrize("kind", KINDS)
def test_release_wakes_a_waiter_blocked_in_another_thread(client, kind):
    key = f"c:{uuid.uuid4().hex[:8]}"
    holder, waiter = lock_like(kind, key, client), lock_like(kind, key, client)
    holder.acquire()
    got: list[float] = []

    def wait() -> None:
        if waiter.acquire(timeout=20):
            got.append(time.monotonic())
            waiter.release()

    t = threading.Thread(target=wait)
    t.start()
    wait_for(lambda: holder.statistics().waiting >= 1, 10, "the waiter to register")
    time.sleep(0.1)
    assert not got, "the waiter got in while the holder held it"
    released = time.monotonic()
    holder.release()
    t.join(20)
    assert got, "the waiter was not woken by the release"
    assert got[0] - released < 2.0  # woken by the release, not by a lease or a poll interval


@pytest.mark.parametrize("kind", KINDS)
def test_a_waiter_that_gives_up_is_no_longer_counted_as_waiting(client, kind):
    key = f"c:{uuid.uuid4().hex[:8]}"
    holder, waiter = lock_like(kind, key, client), lock_like(kind, key, client)
    holder.acquire()
    t = threading.Thread(target=waiter.acquire, kwargs={"timeout": 0.5})
    t.start()
    wait_for(lambda: holder.statistics().waiting >= 1, 10, "the waiter to be counted")
    t.join(10)
    wait_for(lambda: holder.statistics().waiting == 0, 2, "the waiter to be forgotten")
    holder.release()


@pytest.mark.parametrize("kind", KINDS)
def test_the_context_manager_releases_when_the_block_raises(client, kind):
    key = f"c:{uuid.uuid4().hex[:8]}"
    obj, other = lock_like(kind, key, client), lock_like(kind, key, client)
    with pytest.raises(KeyError):
        with obj:
            assert _elsewhere(other.acquire, blocking=False) is False
            raise KeyError("boom")
    assert _elsewhere(lambda: other.acquire(blocking=False) and (other.release() or True)) is True


@pytest.mark.parametrize("kind", KINDS)
def test_contention_leaves_no_key_that_an_uncontended_use_does_not_leave(client, raw, prefix, kind):
    def keys(name: str) -> set[str]:
        return {k.decode().replace(name, "<key>") for k in raw.keys(f"*{name}*")}

    calm = f"calm{uuid.uuid4().hex[:6]}"
    obj = lock_like(kind, calm, client)
    obj.acquire()
    obj.release()
    baseline = keys(calm)

    busy = f"busy{uuid.uuid4().hex[:6]}"
    holder = lock_like(kind, busy, client)
    holder.acquire()
    waiters = [lock_like(kind, busy, client) for _ in range(3)]
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda w=w, i=i: results.append(w.acquire(timeout=0.2 if i == 0 else 10)) or
                         (results[-1] and w.release()))
        for i, w in enumerate(waiters)
    ]
    for t in threads:
        t.start()
    wait_for(lambda: holder.statistics().waiting >= 2, 10, "waiters")
    time.sleep(0.3)  # the first waiter gives up meanwhile
    holder.release()
    for t in threads:
        t.join(20)
    assert sorted(results) == [False, True, True]
    # beside those, a lock keeps the ids of releases made while others waited, in a
    # list that expires ({K}:released, see hotsync._keys)
    remembered = {k for k in keys(busy) if k.endswith("}:released")}
    for k in remembered:
        assert raw.pttl(k.replace("<key>", busy)) > 0
    wait_for(lambda: keys(busy) - remembered <= baseline, 3,
             f"only {sorted(baseline)} to remain (found {sorted(keys(busy))})")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", [k for k in KINDS if "fair" in k])
def test_a_fair_waiter_whose_ticket_lapsed_rejoins_the_line_instead_of_sleeping_on_a_free_one(client, raw, kind):
    # a waiter paused past its ticket (GC, SIGSTOP, a slow network) is dropped from the
    # line by the next caller that cleans it; its ticket renewal then learns it is out,
    # but nothing woke it: it slept while the lock or permit was released and free, and
    # it never renewed a ticket again
    key = f"lapsed{uuid.uuid4().hex[:6]}"
    holder = lock_like(kind, key, client, 30)
    holder.acquire()
    waiter = lock_like(kind, key, client, 0.6)
    done: dict[str, object] = {}

    def wait() -> None:
        done["ok"] = waiter.acquire(timeout=8)
        done["at"] = time.monotonic()
        if done["ok"]:
            waiter.release()

    t = threading.Thread(target=wait)
    t.start()
    wait_for(lambda: raw.zcard(holder._line_key) == 1, 5, "the waiter in line")
    member = raw.zrange(holder._line_key, 0, 0)[0]
    raw.zrem(holder._line_key, member)  # what a lapsed ticket comes to (see *_acquire_fair.lua)
    raw.zrem(holder._tickets_key, member)
    time.sleep(0.6)  # the waiter's ticket renewal (every 0.2 s) finds it out of line
    time.sleep(1.0)  # and its place, once rejoined, must be renewed, not lapse again
    assert raw.zcard(holder._line_key) == 1, "the waiter is not back in line"
    released = time.monotonic()
    holder.release()
    t.join(15)
    assert done["ok"] and done["at"] - released < 2, done


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_a_sigkilled_holder_frees_it_within_lease_plus_one_second(client, raw, prefix, redis_url, kind):
    lease = 1.0
    key = f"crash{uuid.uuid4().hex[:6]}"
    holder = start(_workers.hold_and_hang, redis_url, prefix, kind, key, lease, "held")
    try:
        wait_for(lambda: raw.get(f"{prefix}held") is not None, 60, "the holder")
    finally:
        kill9(holder)
    killed_at = time.monotonic()
    other = lock_like(kind, key, client, lease)
    assert other.acquire(blocking=False) is False  # the dead holder's lease still runs
    assert other.acquire(timeout=lease + 5) is True
    assert time.monotonic() - killed_at <= lease + 1.0
    other.release()


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_three_processes_exclude_each_other_and_lose_no_update(client, raw, prefix, redis_url, kind):
    procs, rounds = 3, 40
    key = f"count{uuid.uuid4().hex[:6]}"
    workers = [start(_workers.count_inside, redis_url, prefix, kind, key, rounds, "go") for _ in range(procs)]
    wait_for(lambda: int(raw.get(f"{prefix}ready") or 0) == procs, 60, "workers to start")
    raw.set(f"{prefix}go", "1")
    join_all(workers, 90)
    assert int(raw.get(f"{prefix}counter")) == procs * rounds
    assert max(int(m) for m in raw.lrange(f"{prefix}most", 0, -1)) == 1


def test_every_lock_like_type_is_in_the_contract():
    """A new lock-like public type must be added to the contract (this fails otherwise)."""
    lock_likes = {name for name in hotsync.__all__
                  if isinstance(getattr(hotsync, name), type) and hasattr(getattr(hotsync, name), "acquire")
                  and hasattr(getattr(hotsync, name), "release")}
    covered = {kind.split("(")[0] for kind in KINDS}
    assert lock_likes - {"RateLimiter"} <= covered, f"not in the contract: {sorted(lock_likes - covered)}"
