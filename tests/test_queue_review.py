"""Second audit of the queues: each test reproduces a bug found by a review of the code."""

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
