"""The queues against ``queue``'s, side by side: same results, same errors."""

from __future__ import annotations

import queue

import pytest

import hotsync


from ._parity import same as _same



def same(std_fn, hot_fn):
    return _same(std_fn, hot_fn, ignore_message_of=(queue.Empty, queue.Full))


PAIRS = [(queue.Queue, hotsync.Queue), (queue.LifoQueue, hotsync.LifoQueue), (queue.PriorityQueue, hotsync.PriorityQueue)]


def pair(client, kinds, maxsize=0, key="p"):
    std_cls, hot_cls = kinds
    return std_cls(maxsize), hot_cls(maxsize, key, client)


@pytest.mark.parametrize("kinds", PAIRS, ids=lambda k: k[1].__name__)
@pytest.mark.parametrize("maxsize", [0, 2])
def test_bad_timeouts_raise_what_the_stdlib_raises_full_or_empty(client, kinds, maxsize):
    std, hot = pair(client, kinds, maxsize)
    for q in (std, hot):
        q.put(1)
    calls = [
        lambda q: q.get(timeout=-1),  # raises even though an item is waiting
        lambda q: q.get(True, -0.5),
        lambda q: q.get(timeout="x"),
        lambda q: q.put(2, timeout=-1),  # only a bounded queue checks it
        lambda q: q.put(2, block=False, timeout=-1),
        lambda q: q.get(block=False, timeout=-1),
        lambda q: q.get(block=False, timeout=-1),
        lambda q: q.get(timeout=0),
        lambda q: q.put(3, timeout=0),
        lambda q: q.put(4, timeout=0),
        lambda q: q.put_nowait(5),
        lambda q: q.qsize(),
        lambda q: q.full(),
        lambda q: q.empty(),
    ]
    for call in calls:
        same(lambda: call(std), lambda: call(hot))


@pytest.mark.parametrize("kinds", PAIRS, ids=lambda k: k[1].__name__)
@pytest.mark.parametrize("maxsize", [0, 3])
def test_a_sequence_of_calls_matches_the_stdlib(client, kinds, maxsize):
    std, hot = pair(client, kinds, maxsize)
    items = [(5, "e"), (1, "a"), (3, "c"), (1, "b")] if kinds[0] is queue.PriorityQueue else ["x", 2, [3], None]
    steps = [lambda q, i=i: q.put_nowait(i) for i in items]
    steps += [
        lambda q: q.qsize(),
        lambda q: q.full(),
        lambda q: q.get(),
        lambda q: q.get_nowait(),
        lambda q: q.put(items[0], timeout=0.01),
        lambda q: q.get(timeout=0.01),
        lambda q: q.get(block=False),
        lambda q: q.get(block=False),
        lambda q: q.get(block=False),
        lambda q: q.empty(),
        lambda q: q.get(timeout=0.01),
        lambda q: q.qsize(),
    ]
    for step in steps:
        same(lambda: step(std), lambda: step(hot))


@pytest.mark.parametrize("kinds", PAIRS, ids=lambda k: k[1].__name__)
def test_task_done_too_often_raises_the_stdlib_value_error(client, kinds):
    std, hot = pair(client, kinds)
    for q in (std, hot):
        q.put(1)
        q.get()
    same(std.task_done, hot.task_done)
    same(std.task_done, hot.task_done)
    same(std.join, hot.join)


def test_fifo_get_nowait_returns_the_first_item(client):
    # hot-redis regression: it popped the wrong end without blocking
    q = hotsync.Queue(key="fifo", client=client)
    for i in (1, 2, 3):
        q.put(i)
    assert q.get_nowait() == 1
    assert q.get() == 2


def test_lifo_get_nowait_returns_the_last_item(client):
    q = hotsync.LifoQueue(key="lifo", client=client)
    for i in (1, 2, 3):
        q.put(i)
    assert q.get_nowait() == 3
    assert q.get() == 2


def test_a_bounded_lifo_queue_stays_lifo(client):
    # hot-redis regression: a bounded LifoQueue behaved FIFO
    q = hotsync.LifoQueue(5, "blifo", client)
    q.put(1)
    q.put(2)
    assert q.get() == 2
    assert q.get_nowait() == 1


def test_join_returns_after_task_done(client):
    q = hotsync.Queue(key="j", client=client)
    q.put("a")
    q.get()
    q.task_done()
    q.join()  # hot-redis raised NameError here


def test_priority_queue_returns_tuples_lowest_first_and_fifo_among_equals(client):
    q = hotsync.PriorityQueue(key="pq", client=client)
    for item in [(2, "late"), (1, "first"), (1, "second"), (1.5, {"x": 1}), 0, -3.25]:
        q.put(item)
    assert [q.get_nowait() for _ in range(6)] == [-3.25, 0, (1, "first"), (1, "second"), (1.5, {"x": 1}), (2, "late")]


def test_priority_queue_rejects_non_numeric_priorities_before_writing(client):
    q = hotsync.PriorityQueue(key="pq2", client=client)
    with pytest.raises(TypeError):
        q.put(("high", "x"))
    with pytest.raises(ValueError):
        q.put((float("nan"), "x"))
    assert q.qsize() == 0 and q.unfinished_tasks() == 0


@pytest.mark.parametrize("cls", [hotsync.SetQueue, hotsync.LifoSetQueue])
def test_set_queues_ignore_items_already_waiting_and_take_them_again_once_consumed(client, cls):
    q = cls(key="sq", client=client)
    q.put("a")
    q.put("b")
    q.put("a")
    assert q.qsize() == 2
    assert q.put_many(["b", "c", "c"]) == 1
    first = q.get()
    assert first == ("a" if cls is hotsync.SetQueue else "c")
    q.put(first)
    assert q.qsize() == 3
    assert q.unfinished_tasks() == 4  # only added items count as tasks


def test_values_keep_their_types(client):
    q = hotsync.Queue(key="types", client=client)
    values = [1, 1.5, True, None, "1", [1, "a"], {"k": [None]}]
    for v in values:
        q.put(v)
    got = [q.get() for _ in values]
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]


def test_unencodable_values_raise_type_error_before_any_write(client):
    q = hotsync.Queue(key="bad", client=client)
    with pytest.raises(TypeError):
        q.put_many([1, object()])
    assert q.qsize() == 0 and q.unfinished_tasks() == 0


@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue])
def test_an_unbounded_put_never_looks_at_its_timeout(client, cls):
    std, hot = queue.Queue(), cls(0, f"unbounded-{cls.__name__}", client)
    for q in (std, hot):
        q.put(1, timeout="x")  # never waits, so never reads it
        q.put(2, timeout=-1)
    hot.put(3, timeout="x", delay=0.01)  # a delayed put neither
    assert hot.qsize() == 3


@pytest.mark.parametrize("cls", [hotsync.SetQueue, hotsync.LifoSetQueue])
def test_a_set_queue_batch_counts_a_repeated_member_once_against_maxsize(client, cls):
    q = cls(1, f"batch-{cls.__name__}", client)
    assert q.put_many(["x", "x"], block=False) == 1
    assert q.qsize() == 1
    with pytest.raises(ValueError, match="cannot put 2 items"):
        q.put_many(["x", "y"])
