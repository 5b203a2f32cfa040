"""Lock and RLock: regressions found in review (release racing a renewal, fair waiters
after a crash, a retried release, stale holds, wake-up lists left behind)."""

from __future__ import annotations

import threading
import time

import pytest
import redis

import hotsync

from . import _workers
from ._faultproxy import FaultProxy
from ._helpers import kill9, start, wait_for


@pytest.mark.timeout(30)
def test_a_renewal_that_reaches_redis_after_a_successful_release_reports_no_loss(client, raw, prefix, monkeypatch):
    from hotsync import _lock_ops as lock_mod

    seen = []
    lock = hotsync.Lock("race", client, lease=0.3, on_lost=seen.append)
    original = client.run_script

    def spy(script, keys, args, **kw):
        reply = original(script, keys, args, **kw)
        if script is lock_mod._RELEASE:
            # the release ran in Redis; a renewal of the hold comes due (every lease / 3)
            # before release() reads the reply, and finds the lock gone
            time.sleep(0.35)
        return reply

    monkeypatch.setattr(client, "run_script", spy)
    lock.acquire()
    lock.release()  # released: must not raise LockNotOwnedError
    assert seen == [] and not lock.lost.is_set()
    assert not lock.locked()
    # a real loss is still reported by the release that finds it
    monkeypatch.setattr(client, "run_script", original)
    slow = hotsync.Lock("race2", client, lease=30, on_lost=seen.append)
    slow.acquire()
    raw.delete(f"{prefix}race2")  # gone; its renewal (every 10 s) has not noticed
    with pytest.raises(hotsync.LockNotOwnedError):
        slow.release()
    assert seen == [slow] and slow.lost.is_set()


def _acquire_in_thread(lock, timeout):
    """Start ``lock.acquire(timeout=...)`` on a thread; ``got`` receives its result
    ("ok") and the monotonic time it returned ("at")."""
    got: dict[str, object] = {}

    def wait():
        got["ok"] = lock.acquire(timeout=timeout)
        got["at"] = time.monotonic()

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    return t, got


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_fair_waiter_behind_a_sigkilled_holder_gets_the_lock_within_its_lease_plus_one_second(
    client, raw, prefix, redis_url
):
    lease = 1.0
    holder = hotsync.Lock("dead-holder", client, lease=lease, fair=True)
    holder.acquire()
    doomed = start(_workers.wait_in_line, redis_url, prefix, "dead-holder", lease, "doomed")
    wait_for(lambda: raw.zcard(holder._line_key) == 1, 60, "first waiter in line")
    # the second waiter has a long lease of its own, so its ticket heartbeat (every
    # lease / 3) is not what wakes it: the holder's lease must bound its wait
    second = hotsync.Lock("dead-holder", client, lease=30, fair=True)
    t, got = _acquire_in_thread(second, 40)
    wait_for(lambda: raw.zcard(holder._line_key) == 2, 10, "second waiter in line")
    holder.release()  # grants the lock to the first waiter, in its own process
    wait_for(lambda: raw.get(f"{prefix}doomed:acquired") is not None, 10, "first waiter holding")
    kill9(doomed)
    killed = time.monotonic()
    t.join(45)
    assert got["ok"] is True
    assert got["at"] - killed <= lease + 1.0
    second.release()


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_fair_waiter_behind_a_dead_head_gets_the_lock_soon_after_the_heads_grant_ends(
    client, raw, prefix, redis_url
):
    lease = 1.0
    holder = hotsync.Lock("dead-head", client, lease=lease, fair=True)
    holder.acquire()
    ghost = start(_workers.wait_in_line, redis_url, prefix, "dead-head", lease, "ghost")
    wait_for(lambda: raw.zcard(holder._line_key) == 1, 60, "ghost in line")
    live = hotsync.Lock("dead-head", client, lease=30, fair=True)  # long lease: see above
    t, got = _acquire_in_thread(live, 40)
    wait_for(lambda: raw.zcard(holder._line_key) == 2, 10, "live waiter in line")
    kill9(ghost)
    holder.release()  # grants the lock to the dead head, for what its ticket had left
    released = time.monotonic()
    t.join(45)
    assert got["ok"] is True
    assert raw.get(f"{prefix}ghost:acquired") is None
    assert got["at"] - released <= lease + 1.0
    live.release()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_release_whose_reply_was_lost_succeeds_on_retry_after_another_holder_came_and_went(private_server):
    proxy = FaultProxy(private_server.port)
    try:
        c = hotsync.HotClient.from_url(proxy.url, socket_timeout=0.2, socket_connect_timeout=0.2, metrics=False,
                                       retry=hotsync.RetryPolicy(budget=5))
        other = hotsync.HotClient.from_url(private_server.url, metrics=False)
        raw = redis.Redis(port=private_server.port)
        seen = []
        a = hotsync.Lock("lost-release-reply", c, lease=5, on_lost=seen.append)
        a.acquire()
        a.release()  # the scripts are loaded: the dropped reply below is not a NOSCRIPT
        a.acquire()
        b_done = threading.Event()

        def waiter_b():
            b = hotsync.Lock("lost-release-reply", other, lease=5)
            if b.acquire(timeout=20):
                b.release()
                b_done.set()

        def restore():  # replies flow again once b has taken and released the lock
            b_done.wait(10)
            proxy.set("pass")

        tb = threading.Thread(target=waiter_b, daemon=True)
        tb.start()
        wait_for(lambda: raw.zcard(a._waiters_key) >= 1, 10, "b waiting")
        proxy.set("drop_replies")
        tr = threading.Thread(target=restore, daemon=True)
        tr.start()
        a.release()  # applied, reply lost; retried after b's hold: must report success
        tb.join(10)
        tr.join(10)
        assert b_done.is_set()
        assert seen == [] and not a.lost.is_set()
        assert not raw.exists("lost-release-reply")
    finally:
        proxy.close()


@pytest.mark.timeout(30)
def test_rlock_owned_is_false_for_a_hold_replaced_by_a_newer_one_of_the_same_thread(client, raw, prefix):
    a = hotsync.RLock("replaced", client, lease=30)
    b = hotsync.RLock("replaced", client, lease=30)
    a.acquire()
    raw.delete(f"{prefix}replaced")  # a's hold is gone (expired, deleted)
    b.acquire()  # the same owner id (this thread) holds it afresh, with a new token
    assert b.token == a.token + 1
    assert a.owned() is False
    assert a.lost.is_set()
    assert b.owned() is True
    b.release()


@pytest.mark.timeout(30)
def test_a_waiter_that_leaves_after_a_grant_leaves_no_wake_up_list(client, raw):
    from hotsync import _lock_ops as lock_mod

    holder = hotsync.Lock("leave-grant", client, fair=True)
    lk = hotsync.Lock("leave-grant", client, fair=True)
    holder.acquire()
    keys = (lk._main, lk._fence_key, lk._line_key, lk._tickets_key, lk._wait_key("ra#a"))
    assert client.run_script(lock_mod._ACQUIRE_FAIR, keys, ("a", "ra", 30000, 30000), idempotent=False)[0] == 0
    holder.release()  # grants the lock to ("a", "ra") and pushes g<token> to its list
    assert raw.hget(lk._main, "@a") == b"ra"
    kept = client.drive(lk._leave("a", "ra", None, keep=True))
    assert kept is not None and kept[1] == 1
    assert not raw.exists(lk._wait_key("ra#a"))


@pytest.mark.timeout(30)
def test_a_fair_acquire_granted_by_its_script_leaves_no_wake_up_list_behind(client, raw, prefix):
    holder = hotsync.Lock("ticket-leak", client, lease=0.3, fair=True, auto_renew=False)
    holder.acquire()
    # the waiter's ticket is renewed every 0.2 s: not when the holder's lease ends
    waiter = hotsync.Lock("ticket-leak", client, lease=0.6, fair=True)
    # the holder's lease runs out: the waiter's next attempt is granted by the script,
    # and its ticket's next heartbeat finds it out of line
    assert waiter.acquire(timeout=10)
    waiter.release()
    pattern = f"{{{prefix}ticket-leak}}:w:*"
    end = time.monotonic() + 0.5  # more than two ticket periods (lease / 3)
    while time.monotonic() < end:
        assert raw.keys(pattern) == []
        time.sleep(0.01)


@pytest.mark.parametrize("make", [
    lambda c: hotsync.Lock("huge", c, lease=1e12),
    lambda c: hotsync.RLock("huge", c, lease=1e12),
    lambda c: hotsync.Semaphore(1, "huge", c, lease=1e12),
    lambda c: hotsync.Queue(key="huge", client=c, lease=1e12),
], ids=["Lock", "RLock", "Semaphore", "Queue"])
def test_a_lease_longer_than_redis_can_expire_is_refused_with_value_error(client, make):
    with pytest.raises(ValueError, match="at most"):
        make(client)


def test_an_extension_longer_than_redis_can_expire_is_refused_with_value_error_and_the_lock_kept(client):
    lock = hotsync.Lock("hugeext", client, lease=5)
    assert lock.acquire()
    with pytest.raises(ValueError, match="at most"):
        lock.extend(1e300)
    assert lock.owned()
    lock.release()
