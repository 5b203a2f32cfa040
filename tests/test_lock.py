"""Lock and RLock behaviour in one process (threads, leases, loss, fencing, keys)."""

from __future__ import annotations

import os
import random
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


def test_starvation_mode_grants_a_released_lock_to_the_hungry_waiter(client, raw):
    # the protocol of lock_acquire / lock_release / lock_leave, step by step (threads would race)
    from hotsync import _lock_ops as lock_mod

    lk = hotsync.Lock(key="starve", client=client)
    rel_keys = (lk._main, lk._fence_key, lk._waiters_key, lk._signal_key, lk._line_key, lk._tickets_key)

    def attempt(owner, waited):
        keys = (lk._main, lk._fence_key, lk._waiters_key, lk._wait_key(f"r{owner}#{owner}"))
        return client.run_script(lock_mod._ACQUIRE, keys, (owner, f"r{owner}", 30000, 5000, waited, 2000),
                                 idempotent=False)

    def release(owner, req):
        return client.run_script(lock_mod._RELEASE, rel_keys, (owner, f"x{req}", 30000, 1, lk._wait_prefix),
                                 idempotent=False)

    # no hungry waiter: a newcomer may barge in after a release (the fast, unfair path)
    assert attempt("h", 0)[0] == 1
    assert attempt("w", 1)[0] == 0
    release("h", 1)
    assert raw.lrange(lk._signal_key, 0, -1) == [b"1"]  # one waiter woken, nothing granted
    raw.delete(lk._signal_key)
    assert attempt("n", 0)[0] == 1
    # a waiter that has waited long claims the next release for this call; the first claim stands
    assert attempt("w", 2)[::2] == [0, 1]  # claimed: registered for the shorter claimant's round
    sec, usec = raw.time()
    assert 1000 < raw.zscore(lk._waiters_key, "w") - (sec * 1000 + usec // 1000) <= 2000
    assert attempt("v", 2)[::2] == [0, 0]
    assert raw.hget(lk._fence_key, "hungry") == b"30000#rw#w"
    release("n", 2)
    # the claimant holds the lock at once, under its request id, for what its registration had left
    assert raw.hgetall(lk._main) == {b"w": b"1", b"@w": b"rw"}
    assert 0 < raw.pttl(lk._main) <= 2000
    assert raw.lrange(lk._wait_key("rw#w"), 0, -1) == [b"g3"]  # token 3, pushed to this call only
    assert raw.hget(lk._fence_key, "hungry") is None and raw.zscore(lk._waiters_key, "w") is None
    assert raw.lrange(lk._signal_key, 0, -1) == [b"1"]  # and v is woken, to claim the next one
    assert attempt("x", 0)[0] == 0  # newcomers cannot take it
    # the waiter may learn of the grant by retrying: same token, and a full lease
    assert attempt("w", 2) == [1, 3, 1]
    assert raw.pttl(lk._main) > 29000 and not raw.exists(lk._wait_key("rw#w"))
    assert attempt("v", 2)[0] == 0
    release("w", 3)
    assert raw.hget(lk._main, "@v") == b"rv"
    release("v", 4)
    # a claimant that is no longer registered (it died; its registration ended) is passed over
    assert attempt("h", 0)[0] == 1
    assert attempt("z", 2)[0] == 0
    raw.zrem(lk._waiters_key, "z")
    release("h", 5)
    assert not raw.exists(lk._main) and raw.hget(lk._fence_key, "hungry") is None
    # a claimant that gives up takes its claim and registration with it
    assert attempt("h", 0)[0] == 1
    assert attempt("y", 2)[0] == 0
    leave = client.run_script(lock_mod._LEAVE, (lk._main, lk._line_key, lk._tickets_key, lk._fence_key,
                                                lk._waiters_key), ("ry", "y", 30000), idempotent=False)
    assert leave == [0]
    assert raw.hget(lk._fence_key, "hungry") is None and raw.zscore(lk._waiters_key, "y") is None
    release("h", 6)
    assert not raw.exists(lk._main)


def test_a_waiter_woken_after_a_long_wait_tells_the_script_it_is_hungry(client, monkeypatch):
    from hotsync import _lock_ops as lock_mod

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
    time.sleep(0.05)  # far longer than _lock_ops._HUNGRY
    holder.release()
    t.join(10)
    assert waiter.owned()
    waiter.release()
    mine = [w for owner, w in sent[1:]]
    assert mine[0] == 0 and mine[-1] == 2, sent  # first attempt: a newcomer; after the wait: hungry


def test_fair_release_grants_the_lock_to_the_head_of_the_line_directly(client, raw):
    # the protocol of lock_acquire_fair / lock_release / lock_leave, step by step
    from hotsync import _lock_ops as lock_mod

    lk = hotsync.Lock(key="grant", client=client, fair=True)
    rel_keys = (lk._main, lk._fence_key, lk._waiters_key, lk._signal_key, lk._line_key, lk._tickets_key)

    def attempt(owner, req, ticket=30000):
        keys = (lk._main, lk._fence_key, lk._line_key, lk._tickets_key, lk._wait_key(f"{req}#{owner}"))
        return client.run_script(lock_mod._ACQUIRE_FAIR, keys, (owner, req, 30000, ticket), idempotent=False)

    def release(owner, req):
        return client.run_script(lock_mod._RELEASE, rel_keys, (owner, req, 30000, 1, lk._wait_prefix),
                                 idempotent=False)

    def leave(owner, req):
        return client.run_script(lock_mod._LEAVE, (lk._main, lk._line_key, lk._tickets_key, lk._fence_key,
                                                   lk._waiters_key), (req, owner, 30000), idempotent=False)

    assert attempt("h", "r1")[0] == 1
    assert attempt("a", "r2")[:1] == [0] and attempt("b", "r3")[:1] == [0]
    raw.zadd(lk._tickets_key, {"r2#a": int(raw.time()[0] * 1000) + 5000})  # a's ticket: ~5 s left
    assert release("h", "x1") == [1, 0]
    # the head owns the lock at once, under its request id, for what its ticket had left
    assert raw.hgetall(lk._main) == {b"a": b"1", b"@a": b"r2"}
    assert 3000 < raw.pttl(lk._main) <= 5000
    assert raw.zrange(lk._line_key, 0, -1) == [b"r3#b"]
    assert raw.lrange(lk._wait_key("r2#a"), 0, -1) == [b"g2"]  # token 2, pushed to this call only
    # the waiter may learn of the grant by retrying: same token, and a full lease
    assert attempt("a", "r2") == [1, 2, 1]
    assert raw.pttl(lk._main) > 29000 and not raw.exists(lk._wait_key("r2#a"))
    # a newcomer cannot take it; b is granted next, and may give up after the grant:
    busy = attempt("n", "r4", ticket=0)
    assert busy[0] == 0 and busy[2] == -1
    assert release("a", "x2") == [1, 0]
    assert raw.hget(lk._main, "@b") == b"r3"
    assert leave("b", "r3") == [2, 3]  # the grant is reported, to be kept or released
    assert leave("n", "r4") == [0]


def test_a_fair_waiter_that_gives_up_after_a_grant_keeps_it_or_passes_it_on(client, raw):
    from hotsync import _lock_ops as lock_mod

    lk = hotsync.Lock(key="grant2", client=client, fair=True)
    keys = lambda owner, req: (lk._main, lk._fence_key, lk._line_key, lk._tickets_key,  # noqa: E731
                               lk._wait_key(f"{req}#{owner}"))
    holder = hotsync.Lock(key="grant2", client=client, fair=True)
    assert holder.acquire()
    for owner, req in (("a", "ra"), ("b", "rb")):
        assert client.run_script(lock_mod._ACQUIRE_FAIR, keys(owner, req), (owner, req, 30000, 30000),
                                 idempotent=False)[0] == 0
    holder.release()
    assert raw.hget(lk._main, "@a") == b"ra"
    # an acquire that raised while waiting leaves the line and releases the grant: b gets it
    assert client.drive(lk._leave("a", "ra", None, keep=False)) is None
    assert raw.hget(lk._main, "@b") == b"rb" and raw.hget(lk._main, "a") is None
    # a timed-out acquire keeps a grant it finds: (token, depth, sent, lease)
    kept = client.drive(lk._leave("b", "rb", None, keep=True))
    assert kept[:2] == (3, 1) and kept[3] == lk.lease


@pytest.mark.timeout(30)
def test_only_the_claimant_of_the_next_release_re_registers_every_round(client, raw, monkeypatch):
    # the claimant's registration bounds how long a grant to a dead claimant lasts, so it
    # renews it each _HUNGRY_ROUND; the other waiters block until woken (no polling)
    from hotsync import _lock_ops as lock_mod

    monkeypatch.setattr(lock_mod, "_HUNGRY_ROUND", 0.3)
    attempts: dict[str, int] = {}
    original = client.run_script

    def spy(script, keys, args, **kw):
        if script is lock_mod._ACQUIRE:
            attempts[args[0]] = attempts.get(args[0], 0) + 1
        return original(script, keys, args, **kw)

    monkeypatch.setattr(client, "run_script", spy)
    holder = hotsync.Lock(key="rounds", client=client)
    holder.acquire()
    waiters = [hotsync.Lock(key="rounds", client=client) for _ in range(2)]
    threads = [threading.Thread(target=w.acquire, kwargs={"timeout": 20}, daemon=True) for w in waiters]
    for t in threads:
        t.start()
        wait_until = time.monotonic() + 5
        while raw.zcard(holder._waiters_key) < threads.index(t) + 1 and time.monotonic() < wait_until:
            time.sleep(0.01)
        time.sleep(0.05)
        raw.lpush(holder._signal_key, "1")  # woken once: hungry from now on
        while raw.llen(holder._signal_key) and time.monotonic() < wait_until:
            time.sleep(0.01)
    claim = raw.hget(holder._fence_key, "hungry").decode()
    before = dict(attempts)
    time.sleep(1.5)
    counts = {owner: attempts[owner] - before.get(owner, 0) for owner in attempts}
    claimant = next(o for o in counts if claim.endswith("#" + o))
    others = [n for o, n in counts.items() if o not in (claimant, holder._hold.owner)]
    assert counts[claimant] >= 3  # ~every 0.3 s
    assert others and all(n == 0 for n in others), counts
    holder.release()  # granted to the claimant, then passed on
    end = time.monotonic() + 10
    while any(t.is_alive() or w._hold is not None for t, w in zip(threads, waiters)) and time.monotonic() < end:
        for w in waiters:
            if w._hold is not None:
                w.release()
        time.sleep(0.01)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fair", [False, True])
def test_waiters_timing_out_amid_grants_leave_nothing_behind(client, raw, fair):
    # short timeouts race the releases' direct grants: a grant found on the way out is
    # kept (acquire returns True), never stranded; mutual exclusion holds throughout
    inside, overlaps, got = [0], [0], [0]
    guard = threading.Lock()

    def run(seed):
        rnd = random.Random(seed)
        lock = hotsync.Lock("timeouts", client, fair=fair)
        for _ in range(40):
            if lock.acquire(timeout=rnd.choice((0.0005, 0.002, 0.005, 0.02))):
                with guard:
                    inside[0] += 1
                    overlaps[0] += inside[0] > 1
                    got[0] += 1
                time.sleep(rnd.choice((0, 0.001, 0.003)))
                with guard:
                    inside[0] -= 1
                lock.release()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(50)
    probe = hotsync.Lock("timeouts", client, fair=fair)
    assert overlaps[0] == 0 and got[0] > 0
    assert not raw.exists(probe._main)  # no grant stranded on a caller that left
    assert raw.zcard(probe._line_key) == 0 and raw.zcard(probe._waiters_key) == 0
    assert raw.hget(probe._fence_key, "hungry") is None
    assert probe.acquire(blocking=False)
    probe.release()
