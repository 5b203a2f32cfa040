"""Second audit of the queues: each test reproduces a bug found by a review of the code."""

from __future__ import annotations

import os
import threading
import time

import pytest

import hotsync

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]


def _name(cls):
    return cls.__name__


def _item(cls, value):
    return (1, value) if cls is hotsync.PriorityQueue else value


@pytest.mark.timeout(30)
@pytest.mark.parametrize("reserve", [False, True], ids=["get", "reserve"])
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_a_getter_whose_noted_due_time_passed_is_woken_by_the_next_put(client, cls, reserve):
    # A notes a delayed item's due time, another object takes that item; A's next
    # blocking wait must still be woken by a put (it used to wait on a key nobody
    # pushes to, for its whole timeout)
    a, b, c = (cls(key="staledue", client=client) for _ in range(3))
    a.put(_item(cls, "x"), delay=0.3)
    with pytest.raises(hotsync.Empty):
        a.get(timeout=0.05)  # notes the due time
    time.sleep(0.4)
    assert b.get(timeout=2) == _item(cls, "x")
    timer = threading.Timer(0.5, lambda: c.put(_item(cls, "y")))
    timer.start()
    start = time.monotonic()
    try:
        got = a.reserve(timeout=8).value if reserve else a.get(timeout=8)
    finally:
        timer.join()
    assert got == _item(cls, "y")
    assert time.monotonic() - start < 3.0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.LifoQueue], ids=_name)
def test_a_forked_child_puts_messages_with_ids_of_its_own(client, cls):
    # the child copied the parent's id prefix and counter: equal ids, and two equal
    # delayed envelopes put in one millisecond merged into one (a message lost)
    q = cls(key="forkids", client=client)
    q.put(_item(cls, "warm-up"))  # the parent has used its counter
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            q.put(_item(cls, "child"))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    q.put(_item(cls, "parent"))
    ids = [q.reserve(timeout=2).id for _ in range(3)]
    assert len(set(ids)) == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["with", "consume"])
def test_a_message_whose_ack_failed_is_redelivered_once_its_consumer_is_idle(client, redis_url, prefix, how):
    # Redis unreachable past the retry budget while acking: the message stayed "held"
    # and the heartbeat kept it reserved while the process lived (never redelivered,
    # join() never returned)
    from ._faultproxy import FaultProxy

    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultProxy(port)
    try:
        faulty = hotsync.HotClient.from_url(proxy.url, metrics=False, key_prefix=prefix, socket_timeout=0.3,
                                            retry=hotsync.RetryPolicy(budget=0.3))
        q = hotsync.Queue(key="ackfail", client=faulty, lease=3)
        q.put("a")
        q.put("b")
        with pytest.raises(Exception):
            if how == "with":
                with q.reserve(timeout=2) as msg:
                    assert msg.value == "a"
                    proxy.set("stall")
            else:
                for msg in q.consume(timeout=2):
                    assert msg.value == "a"
                    proxy.set("stall")  # the next round trip (ack + reserve) fails
        proxy.reset()
        proxy.set("pass")
        other = hotsync.Queue(key="ackfail", client=client, lease=3)
        got = []
        while len(got) < 2:
            m = other.reserve(timeout=6)  # "a" once the first consumer's heartbeat sees it idle
            got.append(m.value)
            m.ack()
        assert sorted(got) == ["a", "b"]
        other.join()
        faulty.close()
    finally:
        proxy.close()


def test_dead_letter_limits_are_checked_and_zero_means_none(client):
    q = hotsync.Queue(key="deadlimit", client=client, max_attempts=1)
    for v in (1, 2, 3):
        q.put(v)
        q.reserve(timeout=1).nack()
    assert [d.value for d in q.dead_letters()] == [1, 2, 3]
    assert [d.value for d in q.dead_letters(2)] == [1, 2]
    assert q.dead_letters(0) == []
    with pytest.raises(ValueError):
        q.dead_letters(-1)
    with pytest.raises(TypeError):
        q.dead_letters(1.5)
    with pytest.raises(ValueError):
        q.replay_dead(-1)
    assert q.replay_dead(0) == 0
    assert q.dead_count() == 3


@pytest.mark.parametrize("delay", [-1, float("nan"), "soon"])
def test_a_bad_nack_delay_raises_even_when_the_message_is_settled_already(client, delay):
    q = hotsync.Queue(key="nackcheck", client=client)
    q.put(1)
    msg = q.reserve(timeout=1)
    assert msg.ack() is True
    with pytest.raises((ValueError, TypeError)):
        msg.nack(delay=delay)


def test_a_priority_too_large_for_a_redis_score_is_refused_before_anything_is_written(client):
    q = hotsync.PriorityQueue(key="hugeprio", client=client)
    with pytest.raises(ValueError, match="too large"):
        q.put_many([(1, "a"), (10**400, "b")])
    assert q.qsize() == 0
    assert q.unfinished_tasks() == 0
    q.put((-(10**300), "c"))
    assert q.get(timeout=1) == (-(10**300), "c")


@pytest.mark.parametrize("cls", [hotsync.SetQueue, hotsync.LifoSetQueue], ids=_name)
def test_dicts_equal_in_python_are_one_set_queue_member_whatever_their_key_order(client, cls):
    q = cls(key="setdicts", client=client)
    assert q.put_many([{"a": 1, "b": {"x": 1, "y": 2}}, {"b": {"y": 2, "x": 1}, "a": 1}]) == 1
    q.put({"b": {"x": 1, "y": 2}, "a": 1})  # waiting already: a no-op
    assert q.qsize() == 1
    assert q.get(timeout=1) == {"a": 1, "b": {"x": 1, "y": 2}}


def test_a_negative_maxsize_is_unbounded_like_zero_and_agrees_with_it_on_one_key(client):
    # queue.Queue: maxsize <= 0 means infinite; Queue(-1) and Queue(0) once conflicted
    a = hotsync.Queue(-1, key="negmax", client=client)
    b = hotsync.Queue(0, key="negmax", client=client)
    a.put_many(range(50))
    assert not a.full() and not b.full()
    assert b.qsize() == 50
