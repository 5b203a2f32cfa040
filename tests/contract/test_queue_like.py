"""One behaviour contract, run over every queue type against its stdlib model.

Random sequences of non-blocking calls (seeded, so a failure replays) go to a
hotsync queue and to the ``queue`` module's counterpart side by side; every
return value, every exception class, ``qsize``/``empty``/``full`` and the
unfinished-task count must agree after each call.  Set queues are modelled as
the stdlib FIFO/LIFO queue that skips an item already waiting.  ``reserve()`` +
``ack()`` must behave as ``get()`` + ``task_done()``.
"""

from __future__ import annotations

import queue
import random
import uuid

import pytest

import hotsync

from .._helpers import overshoot

#: hotsync type -> (stdlib model type, unique members)
QUEUE_LIKE = {
    hotsync.Queue: (queue.Queue, False),
    hotsync.LifoQueue: (queue.LifoQueue, False),
    hotsync.PriorityQueue: (queue.PriorityQueue, False),
    hotsync.SetQueue: (queue.Queue, True),
    hotsync.LifoSetQueue: (queue.LifoQueue, True),
}


def _call(fn, *args):
    try:
        return "ok", fn(*args)
    except (queue.Empty, queue.Full, ValueError) as exc:
        for cls in (queue.Empty, queue.Full, ValueError):
            if isinstance(exc, cls):
                return cls.__name__, str(exc) if cls is ValueError else ""
        raise


def _model_ack(model):
    """An ack counts as task_done; with nothing unfinished (task_done called for it
    already) it counts nothing and does not raise: the message was still held."""
    if model.unfinished_tasks:
        model.task_done()


@pytest.mark.parametrize("maxsize", [0, 3])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cls", list(QUEUE_LIKE), ids=lambda c: c.__name__)
def test_random_calls_match_the_stdlib_model_call_by_call(client, cls, seed, maxsize):
    model_cls, unique = QUEUE_LIKE[cls]
    model = model_cls(maxsize)
    q = cls(maxsize, key=f"q:{uuid.uuid4().hex[:8]}", client=client)
    rng = random.Random(seed)
    held: list[hotsync.Message] = []
    serial = 0
    for step in range(80):
        op = rng.choices(["put", "get", "reserve", "ack", "task_done"], [5, 2, 2, 1, 1])[0]
        where = f"step {step} ({op}), seed {seed}"
        if op == "put":
            serial += 1
            # priority items: the serial keeps equal priorities in arrival order, as hotsync does
            item = [rng.randint(0, 2), serial] if cls is hotsync.PriorityQueue else rng.randint(0, 5 if unique else 99)
            stdlib_item = tuple(item) if isinstance(item, list) else item
            ours = _call(q.put_nowait, tuple(item) if isinstance(item, list) else item)
            if unique and stdlib_item in model.queue:
                theirs = ("ok", None)  # already waiting: a no-op, even when full
            else:
                theirs = _call(model.put_nowait, stdlib_item)
            assert ours == theirs, where
        elif op == "get":
            assert _call(q.get_nowait) == _call(model.get_nowait), where
        elif op == "reserve":
            theirs = _call(model.get_nowait)
            try:
                msg = q.reserve(block=False)
            except queue.Empty:
                assert theirs == ("Empty", ""), where
            else:
                assert ("ok", msg.value) == theirs, where
                assert msg.attempts == 1, where
                held.append(msg)
        elif op == "ack" and held:
            msg = held.pop(rng.randrange(len(held)))
            assert msg.ack() is not False, where
            _model_ack(model)
        elif op == "task_done":
            assert _call(q.task_done) == _call(model.task_done), where
        assert (q.qsize(), q.empty(), q.full()) == (model.qsize(), model.empty(), model.full()), where
        assert q.unfinished_tasks() == model.unfinished_tasks, where
    for msg in held:
        msg.ack()
        _model_ack(model)
    while not model.empty():
        assert _call(q.get_nowait) == _call(model.get_nowait)
        assert _call(q.task_done) == _call(model.task_done)
    assert q.empty()
    assert q.unfinished_tasks() == model.unfinished_tasks


@pytest.mark.parametrize("cls", list(QUEUE_LIKE), ids=lambda c: c.__name__)
def test_values_of_every_json_type_come_back_with_their_type(client, cls):
    values = [0, 1, -7, 2.5, True, False, None, "", "text", [1, "a"], {"k": [1, 2]}]
    q = cls(key=f"q:{uuid.uuid4().hex[:8]}", client=client)
    if cls is hotsync.PriorityQueue:
        values = [(i, v) for i, v in enumerate(values)]
    for v in values:
        q.put(v)
    got = [q.get_nowait() for _ in values]
    if cls is hotsync.LifoQueue or cls is hotsync.LifoSetQueue:
        got.reverse()
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]


@pytest.mark.parametrize("op", ["get", "reserve", "put"])
@pytest.mark.parametrize("cls", list(QUEUE_LIKE), ids=lambda c: c.__name__)
def test_a_short_timeout_ends_the_wait_on_time_on_an_idle_server(slow_tick_client, cls, op):
    # as the stdlib's: get/reserve on an empty queue and put on a full one give up
    # after their timeout, not at the server's next tick (1 s apart at hz 1)
    q = cls(1, key=f"q:{uuid.uuid4().hex[:8]}", client=slow_tick_client)
    item = (1, "a") if cls is hotsync.PriorityQueue else "a"
    if op == "put":
        q.put(item)
    exc = queue.Full if op == "put" else queue.Empty

    def give_up(timeout):
        with pytest.raises(exc):
            if op == "put":
                q.put((2, "b") if cls is hotsync.PriorityQueue else "b", timeout=timeout)
            else:
                getattr(q, op)(timeout=timeout)

    assert overshoot(give_up) < 0.5


def test_every_queue_type_is_in_the_contract():
    """A new public queue type must be added to the contract (this fails otherwise)."""
    queue_likes = {getattr(hotsync, n) for n in hotsync.__all__
                   if isinstance(getattr(hotsync, n), type) and hasattr(getattr(hotsync, n), "put_nowait")}
    assert queue_likes <= set(QUEUE_LIKE), f"not in the contract: {queue_likes - set(QUEUE_LIKE)}"
