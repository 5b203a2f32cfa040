"""Blocking gets pop natively, alone when nothing is delayed or shut down (the fast path)."""

from __future__ import annotations

import threading
import time

import pytest

import hotsync
from hotsync.client import HotClient

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]
ids = [k.__name__ for k in KINDS]


def item(cls, i):
    return (1, i) if cls is hotsync.PriorityQueue else i


class Exchanges:
    """Counts the client's round trips (one per command or pipeline sent)."""

    def __init__(self, client, monkeypatch):
        self.count = 0
        original = client._exchange

        def counting(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(client, "_exchange", counting)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_get_that_waits_wakes_natively_in_one_round_trip(client, redis_url, prefix, monkeypatch, cls):
    q = cls(key="native", client=client)
    other = cls(key="native", client=HotClient.from_url(redis_url, key_prefix=prefix, metrics=False))
    q.put(item(cls, 0))
    assert q.get() == item(cls, 0)  # registered, scripts loaded
    trips = Exchanges(client, monkeypatch)
    threading.Timer(0.3, other.put, args=(item(cls, 1),)).start()
    start = time.monotonic()
    assert q.get(timeout=10) == item(cls, 1)
    assert time.monotonic() - start >= 0.25
    assert trips.count == 1


@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.LifoQueue], ids=["Queue", "LifoQueue"])
def test_back_to_back_gets_and_reserves_on_a_list_queue_take_one_round_trip_each(client, monkeypatch, cls):
    q = cls(key="fast", client=client)
    q.put_many(range(10))
    q.get()
    q.reserve().ack()  # registrations done
    trips = Exchanges(client, monkeypatch)
    for _ in range(3):
        q.get()
    assert trips.count == 3
    msgs = [q.reserve() for _ in range(3)]
    assert trips.count == 6
    for m in msgs:
        m.ack()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_getters_that_drain_a_shut_down_queue_then_fail_at_once(client, cls):
    q = cls(key="drain", client=client)
    q.put_many([item(cls, i) for i in range(8)])
    ready, go = threading.Barrier(3), threading.Barrier(3)
    results: list = []

    def getter():
        results.append(q.get(timeout=5))  # registered; the fast path trusts "not shut down" for a second
        ready.wait(10)
        go.wait(10)
        try:
            while True:
                results.append(q.get(timeout=20))
        except hotsync.ShutDown:
            results.append(("shut", time.monotonic()))

    threads = [threading.Thread(target=getter) for _ in range(2)]
    for t in threads:
        t.start()
    ready.wait(10)
    q.get()  # the last prepare step: its "calm" answer lasts a second
    cls(key="drain", client=client).shutdown()  # by another object, items still waiting
    start = time.monotonic()
    go.wait(10)
    for t in threads:
        t.join(25)
    done = [r for r in results if isinstance(r, tuple) and r[0] == "shut"]
    assert len(done) == 2 and len(results) == 7 + 2
    assert max(at for _, at in done) - start < 0.8  # woken by markers, not by the end of the fast path
    assert q.qsize() == 0


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_delayed_put_while_items_wait_is_delivered_on_time_to_a_draining_getter(client, cls):
    q = cls(key="late", client=client)
    q.put_many([item(cls, i) for i in range(3)])
    q.get()  # fast path armed
    put_at = time.monotonic()
    q.put(item(cls, "d"), delay=0.3)
    got = [q.get(timeout=10) for _ in range(3)]
    assert got[-1] == item(cls, "d")
    assert 0.25 <= time.monotonic() - put_at < 2.0


@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.LifoQueue], ids=["Queue", "LifoQueue"])
def test_wake_markers_at_either_end_are_never_counted_as_items(client, raw, cls):
    q = cls(key="markers", client=client)
    q.put_many(list(range(1500)))
    q.get()
    q.shutdown()  # one marker at the end getters reach last
    assert raw.llen(q._main) == 1500 and q.qsize() == 1499
    assert q.statistics().depth == 1499
    assert len(q.get_many(2000)) == 1499
    with pytest.raises(hotsync.ShutDown):
        q.get(timeout=5)
    assert q.qsize() == 0


def test_a_set_queue_member_redelivered_then_got_leaves_no_attempt_count_once_the_queue_drains(client, raw):
    q = hotsync.SetQueue(key="att", client=client)
    q.put_many(["a", "b"])
    q.reserve().nack()
    assert raw.hexists(q._attempts, "\"a\"")
    assert sorted(q.get_many(5)) == ["a", "b"]  # native pops do not touch the attempt counts
    with pytest.raises(hotsync.Empty):
        q.get(timeout=0.1)  # the prepare step of an empty queue drops them
    assert not raw.exists(q._attempts)
