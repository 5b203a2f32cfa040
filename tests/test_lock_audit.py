"""Audit of Lock/RLock: each test reproduces a bug found in review (see its comment)."""

from __future__ import annotations

import os
import threading
import time

import pytest
import redis

import hotsync
from hotsync._ops import Cmd


@pytest.mark.timeout(60)
def test_threads_sharing_one_lock_object_never_see_a_successful_release_reported_as_lost(client):
    # the release's direct grant wakes the other thread, whose acquire used to mark the
    # releasing thread's hold "lost" before that release had checked it: release() raised
    # LockNotOwnedError although the hold was released normally
    lock = hotsync.Lock("shared-object", client)
    errors: list[str] = []
    inside, overlaps = [0], [0]
    guard = threading.Lock()

    def run() -> None:
        for _ in range(150):
            try:
                with lock:
                    with guard:
                        inside[0] += 1
                        overlaps[0] += inside[0] > 1
                    time.sleep(0.0005)
                    with guard:
                        inside[0] -= 1
            except Exception as exc:  # noqa: BLE001
                with guard:
                    inside[0] = 0
                errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(50)
    assert errors == [] and overlaps[0] == 0
    assert not lock.lost.is_set() and not lock.locked()


@pytest.mark.timeout(30)
def test_an_rlock_reentered_after_its_hold_was_lost_reports_the_loss_and_takes_the_new_token(client, raw, prefix):
    # the RLock owner id is the thread, so a fresh grant after the hold was lost (another
    # owner held the lock meanwhile) looked like re-entry: the old token was kept, depth
    # counted on, and the loss was never reported (renewals succeed on the new hold)
    seen = []
    r = hotsync.RLock("rl-lost", client, lease=5, on_lost=seen.append)
    r.acquire()
    first = r.token
    raw.delete(f"{prefix}rl-lost")  # the hold ends (as if its lease ran out during a pause)
    tokens = []

    def other() -> None:
        o = hotsync.RLock("rl-lost", client)
        o.acquire()
        tokens.append(o.token)
        o.release()

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert tokens == [first + 1]
    assert r.acquire(timeout=5)  # "re-entry": in fact a new grant
    assert seen == [r] and r.lost.is_set()
    assert r.token == first + 2  # the token of the hold that exists, never an older one
    r.release()  # the inner level: frees the lock in Redis
    assert not r.locked()
    with pytest.raises(hotsync.LockNotOwnedError):
        r.release()  # the outer level's hold was lost


@pytest.mark.timeout(30)
def test_a_forked_child_sees_no_fencing_token_of_its_parents_hold(client):
    # owned() is False in a forked child and release() raises, but token still returned
    # the parent's fencing token, which the child could present to the protected resource
    lock = hotsync.Lock("fork-token", client)
    lock.acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.write(w, b"1" if lock.token is None and not lock.owned() else b"0")
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert lock.token is not None  # the parent still holds it
    lock.release()
    assert got == b"1"


@pytest.mark.timeout(30)
def test_a_stalled_redis_does_not_stop_the_renewal_of_leases_on_another_redis(client, private_server):
    # one renewal thread renewed the groups (client, node) one after another; a group whose
    # server stalls blocked it for most of that group's lease, so a short lease on a healthy
    # server ran out in Redis, and its loss was not even reported
    other = hotsync.HotClient.from_url(private_server.url, metrics=False)
    admin = redis.Redis(port=private_server.port)
    try:
        slow = hotsync.Lock("on-stalled", other, lease=6)
        fast = hotsync.Lock("on-healthy", client, lease=0.6)
        slow.acquire()
        fast.acquire()
        time.sleep(0.3)
        admin.execute_command("CLIENT", "PAUSE", 3000, "ALL")
        time.sleep(2.5)  # four of the fast lease's lengths
        assert client.redis.exists(fast._main) and not fast.lost.is_set()
        assert fast.owned()
        fast.release()
        time.sleep(0.6)  # the pause ends; the slow lease survived it
        slow.release()
    finally:
        admin.close()
        other.close()


class _Interrupted(Exception):
    pass


@pytest.mark.timeout(30)
def test_a_waiter_interrupted_after_taking_the_wake_up_passes_it_on_to_the_next_waiter(client, raw, monkeypatch):
    # a release wakes ONE unfair waiter; one that was interrupted (an exception) right after
    # popping that wake-up left the waiters without passing it on (the fair line does): the
    # other waiter slept on a free lock until the holder's lease (here 30 s) or its timeout
    holder = hotsync.Lock("interrupted", client, lease=30)
    holder.acquire()
    victim: list[threading.Thread | None] = [None]
    original = client.perform

    def perform(call):
        reply = original(call)
        if threading.current_thread() is victim[0] and isinstance(call, Cmd) and call.args[0] == "BLPOP" and reply:
            raise _Interrupted()  # as a KeyboardInterrupt right after the wake-up was taken
        return reply

    monkeypatch.setattr(client, "perform", perform)
    results: dict[str, object] = {}

    def wait(name: str) -> None:
        if name == "a":
            victim[0] = threading.current_thread()
        lock = hotsync.Lock("interrupted", client)
        try:
            results[name] = lock.acquire(timeout=8)
        except _Interrupted:
            results[name] = "interrupted"
        results[name + "_at"] = time.monotonic()
        if results[name] is True:
            lock.release()

    threads = []
    for name in ("a", "b"):  # a blocks first, so a is the one the release wakes
        t = threading.Thread(target=wait, args=(name,))
        t.start()
        threads.append(t)
        end = time.monotonic() + 5
        while raw.zcard(holder._waiters_key) < len(threads) and time.monotonic() < end:
            time.sleep(0.005)
        time.sleep(0.1)
    released = time.monotonic()
    holder.release()
    for t in threads:
        t.join(15)
    assert results["a"] == "interrupted" and results["b"] is True
    assert results["b_at"] - released < 2, results  # b took the free lock at once


# -- lost replies (through the fault-injecting proxy of tests/_faultproxy.py) ----------


@pytest.fixture
def proxy(private_server):
    from ._faultproxy import FaultProxy

    p = FaultProxy(private_server.port)
    yield p
    p.close()


def _proxied(url: str) -> hotsync.HotClient:
    return hotsync.HotClient.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2, metrics=False,
                                      retry=hotsync.RetryPolicy(budget=5))


def _wait_until(predicate, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.005)


@pytest.mark.timeout(30)
def test_an_extend_whose_reply_was_lost_adds_its_time_once(proxy, private_server):
    # extend() added seconds to the remaining TTL and was retried blindly after a lost
    # reply: every attempt that reached the server added them again
    c = _proxied(proxy.url)
    raw = redis.Redis(port=private_server.port)
    lock = hotsync.Lock("lost-extend", c, lease=10, auto_renew=False)
    lock.acquire()
    lock.extend(1)  # the script is loaded (a lost NOSCRIPT reply would hide the bug)
    proxy.set("drop_replies")
    threading.Timer(0.5, proxy.set, args=("pass",)).start()
    left = lock.extend(20)
    assert left <= 31.05
    assert raw.pttl("lost-extend") <= 31_000  # 10 s of lease + 1 s + 20 s, not 51 s or more
    assert lock.extend(5) > left - 1  # a new call adds again
    lock.release()
    c.close()


def _holder_and_proxied_waiter(proxy, private_server, key, *, holder_lease, waiter_lease, fair=False):
    """A holder on a direct client, and a thread waiting (timeout 15 s) through the proxy.

    Returns (direct client, proxied client, raw client, holder, waiter, done, thread);
    ``done`` gets ``ok`` (what acquire returned) and ``at`` (when).
    """
    direct = hotsync.HotClient.from_url(private_server.url, metrics=False)
    c = _proxied(proxy.url)
    raw = redis.Redis(port=private_server.port)
    holder = hotsync.Lock(key, direct, lease=holder_lease, fair=fair)
    holder.acquire()
    waiter = hotsync.Lock(key, c, lease=waiter_lease, fair=fair)
    done: dict[str, object] = {}

    def wait() -> None:
        done["ok"] = waiter.acquire(timeout=15)
        done["at"] = time.monotonic()

    t = threading.Thread(target=wait)
    t.start()
    return direct, c, raw, holder, waiter, done, t


@pytest.mark.timeout(30)
def test_a_claimant_whose_hand_over_reply_was_lost_still_gets_the_grant_it_was_given(proxy, private_server):
    # the BLPOP that pops a direct grant was retried blindly after a lost reply: the retry
    # waited a whole round for a notice already taken, while the grant (which lives only
    # as long as the claimant's registration) ran out; the lock was then free and the
    # waiter took it afresh, with a new token, if nobody else did first
    direct, c, raw, holder, waiter, done, t = _holder_and_proxied_waiter(
        proxy, private_server, "lost-grant", holder_lease=1.5, waiter_lease=10)  # renewed: 1.0-1.5 s left
    _wait_until(lambda: raw.hget(holder._fence_key, "hungry") is not None)  # it claimed the next release
    time.sleep(0.05)  # and blocks on its wake-up list for 1 s
    proxy.set("drop_replies")
    released = time.monotonic()
    holder.release()
    granted = int(raw.hget(holder._fence_key, "n"))
    threading.Timer(0.3, proxy.set, args=("pass",)).start()
    t.join(20)
    assert done["ok"] is True
    assert waiter.token == granted, "the grant ran out before the waiter learned of it"
    assert done["at"] - released < 1.8
    waiter.release()
    c.close()
    direct.close()


@pytest.mark.timeout(30)
def test_a_fair_waiter_whose_hand_over_reply_was_lost_takes_the_grant_at_once(proxy, private_server):
    # after a lost BLPOP reply (here: the connection reset), the blind retry blocked again
    # for the previous holder's remaining lease while the lock, already granted to this
    # waiter, sat unused
    direct, c, raw, holder, waiter, done, t = _holder_and_proxied_waiter(
        proxy, private_server, "lost-fair-grant", holder_lease=3, waiter_lease=30, fair=True)  # 2-3 s left
    _wait_until(lambda: raw.zcard(holder._line_key) == 1)
    wake_key = holder._wait_prefix + raw.zrange(holder._line_key, 0, 0)[0].decode()
    time.sleep(0.1)  # blocked in BLPOP on its wake-up list
    proxy.set("drop_replies")
    released = time.monotonic()
    holder.release()  # grants the lock to the waiter and pushes g<token>
    granted = int(raw.hget(holder._fence_key, "n"))
    _wait_until(lambda: raw.exists(wake_key) == 0)  # popped; the reply is dropped
    time.sleep(0.05)
    proxy.reset()  # the client learns its connection is gone: the reply is lost
    proxy.set("pass")
    t.join(20)
    assert done["ok"] is True and waiter.token == granted
    # before the fix: ~6 s (the retried BLPOP sat out another whole wait after the first);
    # now well under 1 s, or ~3 s (one wait) on a loaded machine where the client only
    # learns of the reset when its read times out
    assert done["at"] - released < 4.5, done["at"] - released
    waiter.release()
    c.close()
    direct.close()


@pytest.mark.timeout(30)
def test_a_stale_rlock_object_neither_renews_nor_releases_the_newer_hold_of_its_thread(client, raw):
    # two RLock objects in one thread share an owner id: when one object's hold is lost
    # and the other takes the lock afresh, the owner id alone made the first object's
    # renewals succeed on the new hold and its release lower the new hold's depth
    stale = hotsync.RLock("two-objects", client, lease=0.6)
    stale.acquire()
    old_token = stale.token
    raw.delete(stale._main)  # the hold is lost in Redis (the renewal has not noticed yet)
    fresh = hotsync.RLock("two-objects", client, lease=10)
    assert fresh.acquire(blocking=False)
    assert fresh.token > old_token
    _wait_until(lambda: stale.lost.is_set(), 3)  # its renewal (every 0.2 s) sees the newer hold
    assert not stale.owned()
    with pytest.raises(hotsync.LockNotOwnedError):
        stale.release()
    assert fresh.owned() and raw.hget(fresh._main, fresh._owner()) == b"1"
    fresh.release()
    assert not fresh.locked()


@pytest.mark.parametrize("fair", [False, True], ids=["unfair", "fair"])
@pytest.mark.parametrize("cls", [hotsync.Lock, hotsync.RLock], ids=lambda c: c.__name__)
def test_a_lock_on_a_key_of_another_type_raises_wrong_type_naming_it_and_writes_nothing(client, raw, prefix, cls, fair):
    # statistics() raised "TypeError: 'WrongTypeError' object is not subscriptable" (the
    # batch's error reply was read as a value); locked() said True (EXISTS) for any type
    def keys():  # the index of named objects is written before the first acquire, by design
        return {k: (raw.type(k), raw.dump(k)) for k in raw.scan_iter(match=f"*{prefix}*") if b"hotsync:index" not in k}

    stores = {"string": lambda k: raw.set(k, "x"), "list": lambda k: raw.rpush(k, "x"),
              "set": lambda k: raw.sadd(k, "x"), "zset": lambda k: raw.zadd(k, {"x": 1})}
    for kind, store in stores.items():
        store(f"{prefix}{kind}")
        lock = cls(kind, client, fair=fair)
        before = keys()
        for name, operation in {
            "acquire": lambda: lock.acquire(blocking=False),
            "acquire_timeout": lambda: lock.acquire(timeout=0.1),
            "locked": lambda: lock.locked(),
            "statistics": lambda: lock.statistics(),
            "force_release": lambda: lock.force_release(),
        }.items():
            with pytest.raises(hotsync.WrongTypeError) as err:
                operation()
            assert err.value.key == f"{prefix}{kind}", (kind, name)
            assert keys() == before, f"{kind}: {name} wrote before failing"


@pytest.mark.parametrize("fields", [
    {"name": "alice", "age": "41"},              # a user's hash
    {"worker-1": "2"},                           # an owner without its request field
    {"worker-1": "zero", "@worker-1": "r1"},     # a depth that is not a count
])
def test_force_release_of_a_hash_that_is_not_a_lock_raises_and_deletes_nothing(client, raw, prefix, fields):
    raw.hset(f"{prefix}profile", mapping=fields)
    with pytest.raises(hotsync.WrongTypeError) as err:
        hotsync.Lock("profile", client).force_release()
    assert err.value.key == f"{prefix}profile"
    assert raw.hgetall(f"{prefix}profile") == {k.encode(): v.encode() for k, v in fields.items()}
