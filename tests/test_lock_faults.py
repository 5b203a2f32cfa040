"""Locks under faults: lost replies, Redis restarts, a stalled server.

Everything stays on 127.0.0.1: a fault-injecting proxy, SIGKILL of the test's
own redis-server, and CLIENT PAUSE.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis

import hotsync

from ._faultproxy import FaultProxy

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy(private_server):
    p = FaultProxy(private_server.port)
    yield p
    p.close()


def _client(url, **kw):
    return hotsync.HotClient.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2, metrics=False,
                                      retry=hotsync.RetryPolicy(budget=kw.pop("budget", 5)), **kw)


def _drop_replies_for(proxy, seconds):
    proxy.set("drop_replies")
    threading.Timer(seconds, proxy.set, args=("pass",)).start()


def test_acquire_whose_reply_was_lost_still_reports_the_truth(proxy, private_server):
    c = _client(proxy.url)
    raw = redis.Redis(port=private_server.port)
    lock = hotsync.Lock("lost-reply", c)
    assert c.ping()
    _drop_replies_for(proxy, 0.5)
    assert lock.acquire(timeout=10) is True  # executed, reply lost, retried: "acquired", not "busy"
    assert raw.hget("lost-reply", lock._hold.owner) == b"1"  # and not entered twice
    assert lock.token == 1
    lock.release()
    assert not raw.exists("lost-reply")


def test_rlock_reentry_whose_reply_was_lost_is_not_counted_twice(proxy, private_server):
    c = _client(proxy.url)
    raw = redis.Redis(port=private_server.port)
    lock = hotsync.RLock("lost-rl", c)
    lock.acquire()
    _drop_replies_for(proxy, 0.5)
    lock.acquire()
    owner = lock._current_hold().owner
    assert raw.hget("lost-rl", owner) == b"2"
    _drop_replies_for(proxy, 0.5)
    lock.release()  # applied once, retried: still depth 1
    assert raw.hget("lost-rl", owner) == b"1"
    lock.release()
    assert not raw.exists("lost-rl")


def test_release_whose_reply_was_lost_succeeds_on_retry(proxy, private_server):
    c = _client(proxy.url)
    raw = redis.Redis(port=private_server.port)
    lock = hotsync.Lock("lost-release", c)
    lock.acquire()
    _drop_replies_for(proxy, 0.5)
    lock.release()  # first attempt freed it; the retry learns it was this request
    assert not raw.exists("lost-release")


def test_non_idempotent_command_with_lost_reply_raises_outcome_unknown(proxy, private_server):
    c = _client(proxy.url)
    raw = redis.Redis(port=private_server.port)
    assert c.ping()
    _drop_replies_for(proxy, 0.5)
    with pytest.raises(hotsync.OutcomeUnknownError) as err:
        c.command("INCR", "counter", key="counter", idempotent=False)
    assert isinstance(err.value, redis.ConnectionError)
    time.sleep(0.6)
    assert raw.get("counter") == b"1"  # applied once, never twice


def test_operations_resume_after_redis_restarts_within_the_retry_budget(private_server):
    c = _client(private_server.url, budget=10)
    holder = hotsync.Lock("before", c, lease=2)
    holder.acquire()
    private_server.kill()

    def restart():
        time.sleep(0.5)
        private_server.start()

    t = threading.Thread(target=restart)
    t.start()
    start = time.monotonic()
    lock = hotsync.Lock("after", c)
    assert lock.acquire(timeout=10)  # refused connections are retried until the server is back
    assert time.monotonic() - start < 10
    t.join()
    lock.release()
    # the restart lost the old hold (no persistence): its holder is told
    assert holder.lost.wait(5)
    with pytest.raises(hotsync.LockNotOwnedError):
        holder.release()


def test_after_the_retry_budget_the_clients_error_surfaces(private_server):
    c = _client(private_server.url, budget=0.5)
    private_server.kill()
    start = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        hotsync.Lock("down", c).acquire(timeout=1)
    assert time.monotonic() - start < 5


def test_stalled_server_makes_the_holder_lose_its_lease_in_time(private_server):
    c = _client(private_server.url)
    admin = redis.Redis(port=private_server.port)
    lock = hotsync.Lock("paused", c, lease=0.6)
    lock.acquire()
    admin.execute_command("CLIENT", "PAUSE", 2000, "ALL")
    start = time.monotonic()
    assert lock.lost.wait(3)  # renewals cannot be confirmed before the lease ends
    assert time.monotonic() - start < 0.6 + 0.5
    assert not lock.owned()  # known lost: answered without I/O, even while paused
    time.sleep(2.1 - (time.monotonic() - start))
    with pytest.raises(hotsync.LockNotOwnedError):
        lock.release()
