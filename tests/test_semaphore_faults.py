"""Semaphores under faults: lost replies, a Redis restart, a stalled server (all on 127.0.0.1)."""

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


def _client(url, budget=5):
    return hotsync.HotClient.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2, metrics=False,
                                      retry=hotsync.RetryPolicy(budget=budget))


def _drop_replies_for(proxy, seconds):
    proxy.set("drop_replies")
    threading.Timer(seconds, proxy.set, args=("pass",)).start()


def test_acquire_whose_reply_was_lost_takes_one_permit_and_says_so(proxy, private_server):
    c = _client(proxy.url)
    raw = redis.Redis(port=private_server.port)
    sem = hotsync.Semaphore(2, "lost-acq", c)
    _drop_replies_for(proxy, 0.5)
    assert sem.acquire(timeout=10) is True  # applied, reply lost, retried: "acquired" once
    assert raw.llen("lost-acq") == 1 and sem.held == 1  # one of the two tokens taken
    sem.release()
    assert raw.llen("lost-acq") == 2


def test_release_whose_reply_was_lost_succeeds_on_retry_without_a_false_loss(proxy, private_server):
    c = _client(proxy.url)
    raw = redis.Redis(port=private_server.port)
    sem = hotsync.Semaphore(2, "lost-rel", c)
    sem.acquire()
    sem.acquire()
    _drop_replies_for(proxy, 0.5)
    sem.release(2)  # the first attempt removed both; the retry finds them gone in time: no error
    assert raw.llen("lost-rel") == 2 and raw.hget("{lost-rel}:meta", "capacity") == b"2"


def test_capacity_raise_whose_reply_was_lost_is_applied_once(proxy, private_server):
    c = _client(proxy.url)
    raw = redis.Redis(port=private_server.port)
    sem = hotsync.Semaphore(1, "lost-add", c)
    _drop_replies_for(proxy, 0.5)
    sem.release(2)
    assert raw.hget("{lost-add}:meta", "capacity") == b"3"


def test_a_redis_restart_loses_the_permits_and_their_holder_is_told(private_server):
    c = _client(private_server.url, budget=10)
    sem = hotsync.Semaphore(1, "restart", c, lease=1)
    sem.acquire()
    private_server.kill()
    threading.Timer(0.3, private_server.start).start()
    assert sem.lost.wait(5)  # the permit vanished with the server's memory
    other = hotsync.Semaphore(1, "restart", c)
    assert other.acquire(timeout=5)  # and the settings were stored again by acquire
    with pytest.raises(hotsync.LockNotOwnedError):
        sem.release()
    other.release()


def test_a_stalled_server_makes_the_holder_lose_its_permit_in_time(private_server):
    c = _client(private_server.url)
    admin = redis.Redis(port=private_server.port)
    sem = hotsync.Semaphore(1, "paused", c, lease=0.6)
    sem.acquire()
    admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")
    start = time.monotonic()
    assert sem.lost.wait(3)  # renewals cannot be confirmed before the lease ends
    assert time.monotonic() - start < 0.6 + 0.5
