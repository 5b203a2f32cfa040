"""Review of the queue scripts (lua/queue_*.lua): each test reproduces a bug found there."""

from __future__ import annotations

import threading
import time

import pytest

import hotsync

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]


def _name(cls):
    return cls.__name__


def _item(cls, value):
    return (1, value) if cls is hotsync.PriorityQueue else value


def _joins_within(q, seconds):
    t = threading.Thread(target=q.join, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_an_item_put_with_a_delay_is_still_got_after_a_graceful_shutdown(client, cls):
    q = cls(key="sddelay", client=client)
    q.put(_item(cls, "later"), delay=0.3)
    q.shutdown()
    assert q.qsize() == 1
    assert q.get(timeout=5) == _item(cls, "later")
    q.task_done()
    with pytest.raises(hotsync.ShutDown):
        q.get(timeout=1)
    assert _joins_within(q, 3)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_a_message_nacked_with_a_delay_is_redelivered_after_a_graceful_shutdown(client, cls):
    q = cls(key="sdnack", client=client, lease=5)
    q.put(_item(cls, "job"))
    assert q.reserve(timeout=1).nack(delay=0.3)
    q.shutdown()
    got = []
    for msg in q.consume(timeout=5):  # a worker's drain loop: ends with ShutDown once empty
        got.append(msg.value)
    assert got == [_item(cls, "job")]
    assert q.unfinished_tasks() == 0
    assert _joins_within(q, 3)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_a_non_blocking_get_after_shutdown_says_empty_while_an_item_is_delayed(client, cls):
    q = cls(key="sdnowait", client=client)
    q.put(_item(cls, "later"), delay=2)
    q.shutdown()
    with pytest.raises(hotsync.Empty) as info:
        q.get_nowait()
    assert not isinstance(info.value, hotsync.ShutDown)


@pytest.mark.timeout(30)
def test_a_second_immediate_shutdown_counts_only_waiting_items_of_a_long_fifo_queue(client):
    q = hotsync.Queue(key="sdtwice", client=client, lease=5)
    q.put_many(range(1500))
    a = q.reserve(timeout=1)
    b = q.reserve(timeout=1)
    q.shutdown()
    assert q.qsize() == 1498
    q.shutdown(immediate=True)
    assert q.unfinished_tasks() == 2  # a and b are still in flight
    assert a.ack()
    assert not _joins_within(q, 0.5)
    assert b.ack()
    assert _joins_within(q, 3)


@pytest.mark.timeout(40)
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_a_putter_that_fits_is_woken_although_a_bigger_put_waits_before_it(client, cls):
    q = cls(2, key="putfit", client=client)
    q.put_many([_item(cls, 1), _item(cls, 2)])
    ended = {}

    def put(name, items, timeout):
        other = cls(2, key="putfit", client=client)
        try:
            other.put_many(items, timeout=timeout)
            ended[name] = ("put", time.monotonic())
        except hotsync.Full:
            ended[name] = ("full", time.monotonic())

    big = threading.Thread(target=put, args=("big", [_item(cls, 10), _item(cls, 11)], 6))
    big.start()
    time.sleep(0.3)
    small = threading.Thread(target=put, args=("small", [_item(cls, 20)], 20))
    small.start()
    time.sleep(0.3)
    freed = time.monotonic()
    assert q.get(timeout=1) in (_item(cls, 1), _item(cls, 2))
    small.join(25)
    big.join(25)
    assert ended["small"][0] == "put"
    assert ended["small"][1] - freed < 3  # not at the end of its timeout
    assert ended["big"][0] == "full"
    assert q.qsize() == 2


@pytest.mark.timeout(40)
@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.SetQueue], ids=_name)
def test_putters_that_do_not_fit_do_not_wake_each_other_in_a_loop(client, raw, cls):
    q = cls(3, key="putloop", client=client)
    q.put_many([_item(cls, 1), _item(cls, 2), _item(cls, 3)])
    ended = {}

    def put(name, items):
        try:
            cls(3, key="putloop", client=client).put_many(items, timeout=3)
            ended[name] = "put"
        except hotsync.Full:
            ended[name] = "full"

    threads = [threading.Thread(target=put, args=(f"p{i}", [_item(cls, 10 * i + j) for j in range(3)]))
               for i in range(1, 3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    calls = int(raw.info("stats")["total_commands_processed"])
    q.get(timeout=1)  # one free slot: neither fits
    time.sleep(1)
    assert int(raw.info("stats")["total_commands_processed"]) - calls < 100
    for t in threads:
        t.join(10)
    assert ended == {"p1": "full", "p2": "full"}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", [hotsync.SetQueue, hotsync.LifoSetQueue], ids=_name)
def test_the_attempts_of_a_set_queue_do_not_outlive_an_idle_queue(client, raw, cls):
    q = cls(key="attl", client=client, lease=0.5)
    q.put("x")
    assert q.reserve(timeout=1).nack()
    assert q.get(timeout=1) == "x"  # the native pop leaves the count behind
    q.task_done()
    assert raw.exists(q._attempts) == 0 or raw.pttl(q._attempts) > 0
