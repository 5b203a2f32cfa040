"""Queue behaviour across objects and clients: bounds, waiting, join, shutdown, delays."""

from __future__ import annotations

import threading
import time

import pytest
from redis.cluster import key_slot

import hotsync
from hotsync.exceptions import ConfigConflictError

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]
ids = [k.__name__ for k in KINDS]


def later(seconds, fn, *args):
    t = threading.Timer(seconds, fn, args=args)
    t.start()
    return t


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_maxsize_is_shared_by_every_object_on_the_key(client, cls):
    a = cls(2, "shared", client)
    b = cls(2, "shared", client)
    a.put(1)
    b.put(2)
    assert a.full() and b.full()
    with pytest.raises(hotsync.Full):
        b.put_nowait(3)
    with pytest.raises(hotsync.Full):
        a.put(3, timeout=0.05)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_different_maxsize_or_kind_on_an_existing_key_is_a_config_conflict(client, cls):
    cls(2, "conf", client)
    with pytest.raises(ConfigConflictError, match="maxsize=2"):
        cls(3, "conf", client)
    with pytest.raises(ConfigConflictError):
        cls(key="conf", client=client)  # the default 0 is a choice too
    other = hotsync.Queue if cls is not hotsync.Queue else hotsync.LifoQueue
    with pytest.raises(ConfigConflictError, match="holds a"):
        other(2, "conf", client)
    cls(2, "conf2", client, max_attempts=3)
    with pytest.raises(ConfigConflictError, match="max_attempts"):
        cls(2, "conf2", client, max_attempts=4)
    assert cls(2, "conf2", client).max_attempts == 3  # None adopts the stored value


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_blocking_get_wakes_when_another_client_puts(client, redis_url, prefix, cls):
    other = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=False)
    q = cls(key="wake", client=client)
    later(0.2, cls(key="wake", client=other).put, 42)
    start = time.monotonic()
    assert q.get(timeout=10) == 42
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_blocking_put_on_a_full_queue_waits_for_a_get(client, cls):
    q = cls(1, "full", client)
    q.put(1)
    later(0.2, q.get)
    start = time.monotonic()
    q.put(2, timeout=10)
    assert 0.1 < time.monotonic() - start < 5
    assert q.get_nowait() == 2


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_timeouts_end_the_wait_on_time(client, cls):
    q = cls(1, "to", client)
    start = time.monotonic()
    with pytest.raises(hotsync.Empty):
        q.get(timeout=0.3)
    assert 0.25 < time.monotonic() - start < 2
    q.put(1)
    start = time.monotonic()
    with pytest.raises(hotsync.Full):
        q.put(2, timeout=0.3)
    assert 0.25 < time.monotonic() - start < 2


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_join_waits_until_every_task_is_done(client, cls):
    q = cls(key="join", client=client)
    q.put_many([1, 2])
    done = threading.Event()

    def joiner():
        q.join()
        done.set()

    threading.Thread(target=joiner, daemon=True).start()
    q.get()
    q.task_done()
    assert not done.wait(0.3)
    q.reserve().ack()
    assert done.wait(5)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_shutdown_fails_puts_drains_gets_then_fails_them(client, cls):
    q = cls(key="sd", client=client)
    q.put_many([1, 2])
    q.shutdown()
    with pytest.raises(hotsync.ShutDown):
        q.put(3)
    assert {q.get(), q.get_nowait()} == {1, 2}
    with pytest.raises(hotsync.ShutDown):
        q.get()
    with pytest.raises(hotsync.ShutDown):
        q.get_nowait()
    with pytest.raises(hotsync.ShutDown):
        cls(key="sd", client=client).get(timeout=5)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_bad_timeout_on_a_shut_down_queue_raises_shutdown_as_python_3_13_does(client, cls):
    # 3.13's queue checks shutdown first, then the timeout (get: shut down *and* empty);
    # run side by side with the stdlib where it has shutdown()
    import queue as stdlib

    q = cls(1, "sdt", client)
    ref = stdlib.Queue(1) if hasattr(stdlib.Queue, "shutdown") else None

    def both(expected, call):
        for target in (q, ref) if ref is not None else (q,):
            with pytest.raises(expected):
                call(target)

    both(ValueError, lambda t: t.get(timeout=-1))
    both(TypeError, lambda t: t.get(timeout="x"))
    q.put(1)
    if ref is not None:
        ref.put(1)
    both(ValueError, lambda t: t.put(2, timeout=-1))
    both(TypeError, lambda t: t.put(2, timeout="x"))
    q.shutdown()
    if ref is not None:
        ref.shutdown()
    for bad, error in ((-1, ValueError), ("x", TypeError)):
        both(hotsync.ShutDown, lambda t: t.put(2, timeout=bad))
        with pytest.raises(hotsync.ShutDown):
            q.put_many([2], timeout=bad)
        both(error, lambda t: t.get(timeout=bad))  # an item still waits: the timeout is looked at
    assert q.get() == 1
    if ref is not None:
        assert ref.get() == 1
    for bad in (-1, "x"):
        both(hotsync.ShutDown, lambda t: t.get(timeout=bad))
        for take in (q.reserve, lambda timeout: q.get_many(2, timeout=timeout),
                     lambda timeout: next(q.consume(timeout=timeout))):
            with pytest.raises(hotsync.ShutDown):
                take(timeout=bad)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_shutdown_wakes_blocked_getters_and_putters_everywhere(client, cls):
    q = cls(1, "sdw", client)
    other = cls(1, "sdw", client)
    errors = []

    def getter():
        try:
            cls(1, "sdw", client).get(timeout=20)
        except hotsync.ShutDown:
            errors.append("get")

    def reserver():
        try:
            cls(1, "sdw", client).reserve(timeout=20)
        except hotsync.ShutDown:
            errors.append("reserve")

    getters = [threading.Thread(target=getter, daemon=True) for _ in range(3)]
    getters.append(threading.Thread(target=reserver, daemon=True))
    for t in getters:
        t.start()
    time.sleep(0.3)
    start = time.monotonic()
    other.shutdown()
    for t in getters:
        t.join(10)
    assert sorted(errors) == ["get"] * 3 + ["reserve"]
    assert time.monotonic() - start < 5
    with pytest.raises(hotsync.ShutDown):
        q.put(1)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_immediate_shutdown_drops_items_and_releases_join(client, cls):
    q = cls(key="sdi", client=client)
    q.put_many([1, 2, 3])
    q.get()  # one task still running
    q.shutdown(immediate=True)
    assert q.qsize() == 0 and q.unfinished_tasks() == 1
    with pytest.raises(hotsync.ShutDown):
        q.get(timeout=1)
    q.task_done()
    q.join()
    with pytest.raises(ValueError):
        q.task_done()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_delayed_item_is_delivered_after_its_delay_to_a_getter_already_waiting(client, cls):
    q = cls(key="delay", client=client)
    got = []
    t = threading.Thread(target=lambda: got.append((q.get(timeout=10), time.monotonic())), daemon=True)
    t.start()
    time.sleep(0.2)  # the getter is blocked with no bound
    put_at = time.monotonic()
    cls(key="delay", client=client).put(7, delay=0.5)
    assert q.qsize() == 1
    t.join(10)
    value, at = got[0]
    assert value == 7
    assert 0.45 <= at - put_at < 2.5
    with pytest.raises(hotsync.Empty):
        q.get_nowait()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_get_nowait_sees_a_delayed_item_once_due(client, cls):
    q = cls(key="delay2", client=client)
    q.put(1, delay=0.2)
    with pytest.raises(hotsync.Empty):
        q.get_nowait()
    time.sleep(0.3)
    assert q.get_nowait() == 1


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_get_many_takes_the_delayed_items_that_are_due_with_the_waiting_ones(client, cls):
    # the getter has just found the queue calm (nothing delayed); another object
    # then puts one item now and three with a delay: once they are due, one
    # get_many returns all four, not only the one that never waited
    q = cls(key="due-batch", client=client)
    q.put(0)
    assert q.get() == 0
    other = cls(key="due-batch", client=client)
    other.put_many([1, 2, 3], delay=0.2)
    other.put(4)
    time.sleep(0.4)
    assert sorted(q.get_many(10, timeout=5)) == [1, 2, 3, 4]
    assert q.qsize() == 0


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_put_many_and_get_many_move_batches(client, raw, cls):
    q = cls(key="batch", client=client)
    items = list(range(2500))
    assert q.put_many(items) == 2500
    assert q.qsize() == 2500
    got = q.get_many(1000) + q.get_many(1000, timeout=1) + q.get_many(1000, block=False)
    assert sorted(got) == items
    with pytest.raises(hotsync.Empty):
        q.get_many(10, timeout=0.05)
    if cls in (hotsync.Queue, hotsync.SetQueue):
        assert got == items
    with pytest.raises(ValueError):
        cls(3, "b3", client).put_many([1, 2, 3, 4])


def test_put_many_is_all_or_nothing_on_a_bounded_queue(client):
    q = hotsync.Queue(3, "aon", client)
    q.put(0)
    with pytest.raises(hotsync.Full):
        q.put_many([1, 2, 3], block=False)
    assert q.qsize() == 1
    q.put_many([1, 2])
    assert [q.get() for _ in range(3)] == [0, 1, 2]


def test_puts_inside_a_transaction_apply_when_the_block_exits(client, redis_url, prefix):
    other = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=False)
    q = hotsync.Queue(key="tx", client=client)
    watcher = hotsync.Queue(key="tx", client=other)
    with hotsync.transaction(client):
        q.put(1)
        q.put_many([2, 3])
        assert watcher.qsize() == 0
        with pytest.raises(hotsync.TransactionError):
            q.qsize()
    assert [watcher.get_nowait() for _ in range(3)] == [1, 2, 3]
    with pytest.raises(RuntimeError), hotsync.transaction(client):
        q.put(4)
        raise RuntimeError("abort")
    assert watcher.qsize() == 0


def test_a_full_queue_fails_the_transaction(client):
    q = hotsync.Queue(1, "txfull", client)
    q.put(0)
    with pytest.raises(hotsync.TransactionError, match="Full"), hotsync.transaction(client):
        q.put(1)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_every_key_of_a_queue_shares_one_cluster_slot(client, cls):
    q = cls(key="slots", client=client)
    c = q._consumer()
    keys = [q._main, q._meta, q._delayed, q._waiters, q._ready, q._putters, q._space, q._joiners, q._joined,
            q._consumers_key, q._dead, q._attempts, c.inflight, q._producer()[0]]
    assert len({key_slot(k.encode()) for k in keys}) == 1


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_an_idle_queue_leaves_only_its_configuration_key(client, raw, prefix, cls):
    q = cls(2, "idle", client, lease=0.3)
    q.put_many([1, 2])
    with pytest.raises(hotsync.Full):
        q.put(3, timeout=0.05)
    q.get()
    q.task_done()
    q.reserve().ack()
    q.put(9, delay=0.05)
    assert q.get(timeout=5) == 9
    q.task_done()
    with pytest.raises(hotsync.Empty):
        q.get(timeout=0.05)
    q.join()
    deadline = time.monotonic() + 70
    while True:
        left = {k for k in raw.keys("*") if raw.ttl(k) == -1} - {f"{prefix}hotsync:index".encode()}
        if left == {q._meta.encode()} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left == {q._meta.encode()}  # keys with a TTL vanish on their own
    assert all(raw.ttl(k) <= 120 for k in raw.keys("*") if raw.ttl(k) >= 0)


def test_operations_are_counted_in_metrics(client, registry):
    q = hotsync.Queue(key="m", client=client, max_attempts=1)
    q.put_many([1, 2, 3])
    q.get()
    q.reserve().ack()
    q.reserve().nack()

    def value(op):
        return registry.get_sample_value(
            "hotsync_queue_operations_total", {"kind": "queue", "name": "m", "op": op}
        )

    assert value("put") == 3 and value("get") == 1 and value("reserve") == 2
    assert value("ack") == 1 and value("nack") == 1 and value("dead_lettered") == 1
    assert q.replay_dead() == 1 and value("replayed") == 1


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_after_an_immediate_shutdown_nothing_reserved_comes_back(client, cls):
    q = cls(key="sdn", client=client, max_attempts=1)
    other = cls(key="sdn", client=client, max_attempts=1)  # another consumer
    q.put_many([1, 2, 3, 4])
    q.reserve(timeout=1).nack()  # max_attempts=1: a dead letter
    m1, m2 = q.reserve(timeout=1), q.reserve(timeout=1)
    m3 = other.reserve(timeout=1)
    q.shutdown(immediate=True)
    assert q.qsize() == 0 and q.unfinished_tasks() == 3
    assert m1.nack() is True  # dropped, as the waiting items were: one task done
    assert q.requeue_consumer(m3._consumer.id) == 0  # a reap drops too
    assert q.unfinished_tasks() == 1 and q.qsize() == 0
    assert q.replay_dead() == 0 and q.dead_count() == 1  # nothing goes back in
    with pytest.raises(hotsync.ShutDown):
        q.get(timeout=1)
    m2.ack()
    q.join()
