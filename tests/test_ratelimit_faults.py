"""RateLimiter under faults: a decision whose reply was lost is counted once."""

from __future__ import annotations

import threading

import pytest

import hotsync

from ._faultproxy import FaultProxy

pytestmark = pytest.mark.slow


def test_a_decision_whose_reply_was_lost_is_counted_once(private_server):
    proxy = FaultProxy(private_server.port)
    try:
        c = hotsync.HotClient.from_url(proxy.url, socket_timeout=0.2, socket_connect_timeout=0.2, metrics=False,
                                       retry=hotsync.RetryPolicy(budget=5))
        limiter = hotsync.RateLimiter(1, per=60, burst=2, key="lost", client=c)
        proxy.set("drop_replies")
        threading.Timer(0.5, proxy.set, args=("pass",)).start()
        first = limiter.try_acquire()  # applied, reply lost, retried
        assert first.admitted
        second = limiter.try_acquire()
        assert second.admitted and second.remaining == 0  # the retry did not take a second admission
        assert not limiter.try_acquire()
    finally:
        proxy.close()
