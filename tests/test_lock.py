"""Lock and RLock behaviour in one process (threads, leases, loss, fencing, keys)."""

from __future__ import annotations

import os
import threading
import time

import pytest

import hotsync
from hotsync._renewal import scheduler


def test_fencing_tokens_grow_with_every_grant_across_holders(client):
    a, b = hotsync.Lock("f", client), hotsync.Lock("f", client)
    tokens = []
    for lock in (a, b, a, b):
        lock.acquire()
        tokens.append(lock.token)
        lock.release()
    assert tokens == [1, 2, 3, 4]


def test_rlock_reentry_keeps_the_token_and_counts_depth_in_redis(client, raw, prefix):
    r1, r2 = hotsync.RLock("r", client), hotsync.RLock("r", client)
    r1.acquire()
    token = r1.token
    assert r2.acquire(blocking=False)  # same owner (process + thread): re-enters
    assert r1.acquire() and r1.token == token == r2.token
    owner = r1._current_hold().owner
    assert raw.hget(f"{prefix}r", owner) == b"3"
    r2.release()
    r1.release()
    assert raw.hget(f"{prefix}r", owner) == b"1"
    r1.release()
    assert not r1.locked()


def test_no_keys_remain_after_release_but_the_fencing_counter(client, raw, prefix):
    for kind, fair in (("Lock", False), ("RLock", False), ("Lock", True)):
        lock = getattr(hotsync, kind)(f"k{kind}{fair}", client, fair=fair)
        with lock:
            pass
    raw.delete(f"{prefix}hotsync:index")
    assert sorted(raw.keys("*")) == sorted(
        f"{{{prefix}k{k}}}:fence".encode() for k in ("LockFalse", "RLockFalse", "LockTrue")
    )


def test_waiter_that_times_out_leaves_no_keys(client, raw, prefix):
    holder = hotsync.Lock("w", client)
    holder.acquire()
    assert not hotsync.Lock("w", client).acquire(timeout=0.1)
    holder.release()
    raw.delete(f"{prefix}hotsync:index")
    assert raw.keys("*") == [f"{{{prefix}w}}:fence".encode()]


def test_release_wakes_a_blocked_waiter_without_polling(client):
    holder, waiter = hotsync.Lock("wake", client, lease=30), hotsync.Lock("wake", client, lease=30)
    holder.acquire()
    done = {}

    def wait():
        start = time.monotonic()
        done["ok"] = waiter.acquire(timeout=20)
        done["waited"] = time.monotonic() - start

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.3)
    holder.release()
    t.join(20)
    # woken by the release's signal, far sooner than the 30 s lease bound
    assert done["ok"] and done["waited"] < 5
    waiter.release()


def test_an_expired_lease_wakes_waiters_without_any_release(client):
    dead = hotsync.Lock("exp", client, lease=0.5, auto_renew=False)
    dead.acquire()
    start = time.monotonic()
    assert hotsync.Lock("exp", client).acquire(timeout=10)
    assert time.monotonic() - start < 0.5 + 1.0


def test_auto_renew_keeps_a_short_lease_for_several_lease_periods(client):
    lock = hotsync.Lock("renew", client, lease=0.5)
    lock.acquire()
    time.sleep(1.6)
    assert lock.owned() and not lock.lost.is_set()
    assert not hotsync.Lock("renew", client).acquire(blocking=False)
    lock.release()


def test_without_auto_renew_the_holder_learns_at_release_that_it_lost(client):
    lock = hotsync.Lock("noren", client, lease=0.2, auto_renew=False)
    lock.acquire()
    time.sleep(0.4)
    assert not lock.owned() and lock.lost.is_set()
    with pytest.raises(hotsync.LockNotOwnedError):
        lock.release()


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_deleted_lock_is_reported_lost_promptly_and_release_raises(client, raw, prefix, kind):
    seen = []
    lock = getattr(hotsync, kind)("gone", client, lease=0.6, on_lost=seen.append)
    lock.acquire()
    raw.delete(f"{prefix}gone")
    assert lock.lost.wait(0.6 / 3 + 1.0)
    assert seen == [lock]
    assert not lock.owned() and lock.token is None
    with pytest.raises(hotsync.LockNotOwnedError) as err:
        lock.release()
    assert isinstance(err.value, RuntimeError) and err.value.key == "gone"


def test_taken_over_lock_is_reported_lost(client, raw, prefix):
    lock = hotsync.Lock("stolen", client, lease=0.6)
    lock.acquire()
    raw.delete(f"{prefix}stolen")
    thief = hotsync.Lock("stolen", client)
    assert thief.acquire(blocking=False)
    assert lock.lost.wait(2)
    with pytest.raises(hotsync.LockNotOwnedError):
        lock.release()
    assert thief.owned()  # the stale release did not free the thief's hold
    thief.release()


def test_extend_adds_to_the_remaining_lease(client, raw, prefix):
    lock = hotsync.Lock("ext", client, lease=1, auto_renew=False)
    lock.acquire()
    assert 10 < lock.extend(10) <= 11
    assert raw.pttl(f"{prefix}ext") > 9000
    with pytest.raises(ValueError):
        lock.extend(0)
    lock.release()
    with pytest.raises(RuntimeError):
        lock.extend(1)


def test_constructor_validates_the_lease(client):
    with pytest.raises(ValueError):
        hotsync.Lock("v", client, lease=0)
    with pytest.raises(ValueError):
        hotsync.Lock("v", client, lease=float("inf"))
    with pytest.raises(TypeError):
        hotsync.Lock("v", client, lease="10")


def test_renewal_uses_one_scheduler_thread_for_all_leases(client):
    locks = [hotsync.Lock(f"many{i}", client, lease=5) for i in range(20)]
    for lock in locks:
        lock.acquire()
    names = [t.name for t in threading.enumerate() if t.name == "hotsync-renewal"]
    assert len(names) == 1
    assert scheduler().pending() >= 20
    for lock in locks:
        lock.release()


def test_fair_lock_hands_over_in_arrival_order(client):
    holder = hotsync.Lock("fifo", client, fair=True)
    holder.acquire()
    order, threads = [], []
    for i in range(5):
        lock = hotsync.Lock("fifo", client, fair=True)

        def run(lock=lock, i=i):
            assert lock.acquire(timeout=20)
            order.append(i)
            lock.release()

        t = threading.Thread(target=run)
        t.start()
        threads.append(t)
        # wait until this waiter is in line before starting the next
        deadline = time.monotonic() + 5
        while client.redis.zcard(holder._line_key) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    holder.release()
    for t in threads:
        t.join(20)
    assert order == [0, 1, 2, 3, 4]


def test_fair_nonblocking_acquire_does_not_jump_the_line(client):
    holder = hotsync.Lock("fnb", client, fair=True)
    holder.acquire()
    waiting = threading.Thread(target=lambda: hotsync.Lock("fnb", client, fair=True).acquire(timeout=5))
    waiting.start()
    deadline = time.monotonic() + 5
    while client.redis.zcard(holder._line_key) < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    client.redis.delete(holder._main)  # the lock is free, but someone is in line
    assert not hotsync.Lock("fnb", client, fair=True).acquire(blocking=False)
    waiting.join(10)


def test_fair_waiter_that_gives_up_leaves_the_line(client, raw):
    holder = hotsync.Lock("fgive", client, fair=True)
    holder.acquire()
    assert not hotsync.Lock("fgive", client, fair=True).acquire(timeout=0.2)
    assert raw.zcard(holder._line_key) == 0
    holder.release()


def test_forked_child_does_not_own_the_lock_and_its_scheduler_works(client, prefix):
    lock = hotsync.Lock("forked", client, lease=0.6)
    lock.acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            assert not lock.owned()
            try:
                lock.release()
            except hotsync.LockNotOwnedError:
                pass
            else:
                raise AssertionError("child released the parent's lock")
            mine = hotsync.Lock("child-own", hotsync.HotClient.from_url(_url(client), key_prefix=prefix, metrics=False),
                                lease=0.3)
            assert mine.acquire(timeout=5)
            time.sleep(1.0)  # only the child's own scheduler can keep this alive
            assert mine.owned()
            mine.release()
            code = 0
        finally:
            os.write(w, bytes([code]))
            os._exit(code)
    os.close(w)
    status = os.read(r, 1)
    os.waitpid(pid, 0)
    assert status == b"\x00"
    assert lock.owned()  # the parent still holds it, renewed all along
    lock.release()


def _url(client):
    kw = client.redis.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/0"


def test_metrics_count_outcomes_waits_and_holds(client, registry):
    lock = hotsync.Lock("m", client)
    lock.acquire()
    assert not hotsync.Lock("m", client).acquire(blocking=False)
    assert not hotsync.Lock("m", client).acquire(timeout=0.05)
    lock.release()
    get = registry.get_sample_value
    assert get("hotsync_acquisitions_total", {"kind": "lock", "name": "m", "outcome": "acquired"}) == 1
    assert get("hotsync_acquisitions_total", {"kind": "lock", "name": "m", "outcome": "busy"}) == 1
    assert get("hotsync_acquisitions_total", {"kind": "lock", "name": "m", "outcome": "timeout"}) == 1
    assert get("hotsync_acquire_wait_seconds_count", {"kind": "lock", "name": "m", "outcome": "timeout"}) == 1
    assert get("hotsync_hold_seconds_count", {"kind": "lock", "name": "m"}) == 1
    assert get("hotsync_fencing_token", {"kind": "lock", "name": "m"}) == 1


def test_lost_lease_metric(client, raw, prefix, registry):
    lock = hotsync.Lock("ml", client, lease=0.3)
    lock.acquire()
    raw.delete(f"{prefix}ml")
    assert lock.lost.wait(2)
    assert registry.get_sample_value(
        "hotsync_leases_lost_total", {"kind": "lock", "name": "ml", "reason": "expired"}) == 1


def test_repr_does_no_io(client):
    lock = hotsync.Lock("repr", client, fair=True)
    client.redis.connection_pool.disconnect()
    assert repr(lock) == "<hotsync.Lock key='repr' fair lease=30s unheld>"


def test_starvation_mode_hands_a_released_lock_to_the_hungry_waiter_by_name(client, raw, prefix):
    # the protocol of lock_acquire / lock_release, step by step (threads would race)
    from hotsync import lock as lock_mod

    lk = hotsync.Lock(key="starve", client=client)
    keys = (lk._main, lk._fence_key, lk._waiters_key)
    rel_keys = (lk._main, lk._fence_key, lk._waiters_key, lk._signal_key, lk._line_key, lk._tickets_key)

    def attempt(owner, waited):
        return client.run_script(lock_mod._ACQUIRE, keys, (owner, f"{owner}-{waited}-{time.monotonic()}", 30000, 5000,
                                                          waited), idempotent=False)

    def release(owner, req):
        return client.run_script(lock_mod._RELEASE, rel_keys, (owner, f"r-{req}", 30000, 50, lk._wait_prefix),
                                 idempotent=False)

    # no hungry waiter: a newcomer may barge in after a release (the fast, unfair path)
    assert attempt("h", 0)[0] == 1
    assert attempt("w", 1)[0] == 0
    release("h", 1)
    assert attempt("n", 0)[0] == 1
    # a waiter that has waited long claims the next release; the first claim stands
    assert attempt("w", 2)[0] == 0
    assert attempt("v", 2)[0] == 0
    assert raw.hget(lk._fence_key, "hungry") == b"w"
    release("n", 2)
    assert raw.hmget(lk._fence_key, "handto", "hungry") == [b"w", None]
    assert raw.lrange(lk._wait_key("w"), 0, -1) == [b"1"]  # woken by name, in the release's round trip
    for other, waited in (("x", 0), ("v", 1), ("v", 2)):  # newcomers and other waiters stand back...
        busy = attempt(other, waited)
        assert busy[0] == 0 and 0 < busy[1] <= 50, (other, busy)
    assert not raw.exists(lk._main)
    assert attempt("w", 1)[0] == 1  # ...and the hungry waiter gets it
    assert raw.hmget(lk._fence_key, "hand", "handto") == [None, None]
    release("w", 3)
    # "v" claimed hungry while the lock was handed to "w": served next
    assert raw.hget(lk._fence_key, "handto") == b"v"
    assert attempt("h", 0)[0] == 0
    assert attempt("v", 1)[0] == 1
    release("v", 4)
    # the reservation is short: if its owner never comes, the others may take the lock
    assert attempt("h", 0)[0] == 1
    assert attempt("z", 2)[0] == 0
    release("h", 5)
    assert attempt("y", 0)[0] == 0
    time.sleep(0.06)
    assert attempt("y", 0)[0] == 1


def test_a_waiter_woken_after_a_long_wait_tells_the_script_it_is_hungry(client, monkeypatch):
    from hotsync import lock as lock_mod

    sent = []
    original = client.run_script

    def spy(script, keys, args, **kw):
        if script is lock_mod._ACQUIRE:
            sent.append((args[0], args[4]))
        return original(script, keys, args, **kw)

    monkeypatch.setattr(client, "run_script", spy)
    holder = hotsync.Lock(key="hungry", client=client)
    holder.acquire()
    waiter = hotsync.Lock(key="hungry", client=client)
    t = threading.Thread(target=lambda: waiter.acquire(timeout=10), daemon=True)
    t.start()
    time.sleep(0.05)  # far longer than lock._HUNGRY
    holder.release()
    t.join(10)
    assert waiter.owned()
    waiter.release()
    mine = [w for owner, w in sent[1:]]
    assert mine[0] == 0 and mine[-1] == 2, sent  # first attempt: a newcomer; after the wait: hungry


@pytest.mark.timeout(30)
def test_a_dead_hungry_claimant_delays_the_other_waiters_only_by_the_handoff_window(client):
    # a waiter that claimed the next release and then died (or gave up) must not leave
    # the lock free with everyone else asleep until the holder's lease would have ended
    from hotsync import lock as lock_mod

    holder = hotsync.Lock(key="ghost", client=client)  # lease 30 s
    holder.acquire()
    keys = (holder._main, holder._fence_key, holder._waiters_key)
    assert client.run_script(lock_mod._ACQUIRE, keys, ("ghost-owner", "g1", 30000, 5000, 2), idempotent=False)[0] == 0
    got = []
    waiter = threading.Thread(target=lambda: got.append(hotsync.Lock(key="ghost", client=client).acquire(timeout=20)))
    waiter.start()
    time.sleep(0.2)  # the waiter is registered and blocked on the shared signal
    start = time.monotonic()
    holder.release()  # handed to "ghost-owner", who never comes
    waiter.join(20)
    assert got == [True]
    assert time.monotonic() - start < 1.0
