"""Puts inside ``transaction()`` are all or nothing with the other writes of the block.

A put into a full or shut-down queue used to fail alone inside EXEC while the
block's other writes were applied (a ledger entry with no job, say).  The
transaction now checks every queue it puts into under WATCH before its MULTI:
a refused check writes nothing, and a queue that changed in between makes EXEC
write nothing and the check run again.
"""

from __future__ import annotations

import pytest

import hotsync

from . import _queue_workers as w
from ._helpers import join_all, start, wait_for

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]


def _item(cls, value):
    return (1, value) if cls is hotsync.PriorityQueue else value


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", KINDS, ids=lambda c: c.__name__)
def test_a_full_queue_fails_the_transaction_and_nothing_is_written(client, cls):
    q = cls(1, "txfull", client)
    ledger = hotsync.List(key="txledger", client=client)
    q.put(_item(cls, 0))
    with pytest.raises(hotsync.TransactionError, match="not applied.*Full"), hotsync.transaction(client):
        ledger.append("paid")
        q.put(_item(cls, 1))
    assert ledger.value == []
    assert q.qsize() == 1 and q.unfinished_tasks() == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", KINDS, ids=lambda c: c.__name__)
def test_a_shut_down_queue_fails_the_transaction_and_nothing_is_written(client, cls):
    q = cls(key="txshut", client=client)
    jobs = hotsync.Dict(key="txjobs", client=client)
    q.shutdown()
    with pytest.raises(hotsync.TransactionError, match="not applied.*ShutDown"), hotsync.transaction(client):
        jobs["1"] = "queued"
        q.put_many([_item(cls, 1), _item(cls, 2)])
    assert jobs.value == {}
    assert q.qsize() == 0


@pytest.mark.timeout(30)
def test_two_puts_that_fit_alone_but_not_together_fail_together(client):
    q = hotsync.Queue(3, "txpair", client)
    q.put(0)
    with pytest.raises(hotsync.TransactionError, match="Full"), hotsync.transaction(client):
        q.put_many([1, 2])
        q.put(3)
    assert q.qsize() == 1
    with hotsync.transaction(client):
        q.put(1)
        q.put(2)
    assert [q.get_nowait() for _ in range(3)] == [0, 1, 2]


@pytest.mark.timeout(30)
def test_puts_of_an_inner_block_that_raised_are_not_counted_by_the_check(client):
    q = hotsync.Queue(2, "txinner", client)
    q.put(0)
    with hotsync.transaction(client):
        q.put(1)
        with pytest.raises(KeyError), hotsync.transaction(client):
            q.put(2)  # would overflow with the outer put: discarded with its block
            raise KeyError("inner")
    assert [q.get_nowait() for _ in range(2)] == [0, 1]


@pytest.mark.timeout(30)
def test_a_set_queue_member_already_waiting_does_not_count_against_the_check(client):
    q = hotsync.SetQueue(2, "txset", client)
    q.put_many(["a", "b"])
    ledger = hotsync.List(key="txsetledger", client=client)
    with hotsync.transaction(client):
        ledger.append("again")
        q.put("a")  # already waiting: a no-op, so the full queue takes it
    assert ledger.value == ["again"] and q.qsize() == 2


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["Queue", "PriorityQueue"])
def test_racing_transactions_never_leave_a_ledger_entry_without_its_job(client, raw, prefix, redis_url, kind):
    # 4 processes race transactions (ledger append + put) into a bounded queue that
    # fills up mid-run: every ledger entry has its job in the queue, and vice versa
    maxsize, per = 60, 40
    procs = [start(w.ledger_producer, redis_url, prefix, kind, "race", maxsize, i * per, per) for i in range(4)]
    wait_for(lambda: int(raw.get(f"{prefix}ready") or 0) == 4, 60, "producers ready")
    raw.set(f"{prefix}go", 1)
    join_all(procs, 150)
    q = getattr(hotsync, kind)(maxsize, key="race", client=client)
    ledger = hotsync.List(key="race:ledger", client=client)
    queued = [q.get_nowait() for _ in range(q.qsize())]
    if kind == "PriorityQueue":
        queued = [v for _, v in queued]
    assert len(queued) == maxsize
    assert sorted(ledger.value) == sorted(queued)
    assert int(raw.get(f"{prefix}refused")) == 4 * per - maxsize


@pytest.mark.timeout(60)
def test_a_lost_reply_of_the_check_is_retried_and_the_block_is_applied_once(client, redis_url, prefix):
    # WATCH and the checks write nothing: a reply lost before MULTI was sent makes the
    # transaction run again (not "outcome unknown"), and it is applied exactly once
    import threading

    from ._faultproxy import FaultProxy

    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultProxy(port)
    try:
        faulty = hotsync.HotClient.from_url(proxy.url, metrics=False, key_prefix=prefix, socket_timeout=0.5,
                                            retry=hotsync.RetryPolicy(budget=10))
        q = hotsync.Queue(5, "txlost", faulty)
        ledger = hotsync.List(key="txlostledger", client=faulty)
        with hotsync.transaction(faulty):  # a pooled connection ready for the next one
            q.put(0)
        proxy.set("drop_replies")
        threading.Timer(1.2, proxy.set, ("pass",)).start()
        with hotsync.transaction(faulty):
            ledger.append("paid")
            q.put(1)
        check = hotsync.Queue(5, "txlost", client)
        assert [check.get_nowait() for _ in range(check.qsize())] == [0, 1]
        assert hotsync.List(key="txlostledger", client=client).value == ["paid"]
    finally:
        proxy.close()
