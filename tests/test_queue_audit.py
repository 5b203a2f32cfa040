"""Audit of the queues' reliability rules: each test reproduces a bug found by reading the code."""

from __future__ import annotations

import threading
import time

import pytest

import hotsync
from hotsync._ops import Eval
from hotsync._renewal import scheduler
from hotsync._queue_util import _HEARTBEAT

SET_KINDS = [hotsync.SetQueue, hotsync.LifoSetQueue]
KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]


def _name(cls):
    return cls.__name__


@pytest.mark.timeout(30)
@pytest.mark.parametrize("delay", [0, 0.2], ids=["now", "delayed"])
@pytest.mark.parametrize("cls", SET_KINDS, ids=_name)
def test_a_nacked_set_member_that_was_put_again_meanwhile_is_not_counted_twice_by_join(client, cls, delay):
    q = cls(key="merge", client=client)
    q.put("a")
    msg = q.reserve(timeout=1)
    q.put("a")  # allowed: it was reserved, so it is not waiting any more
    assert q.unfinished_tasks() == 2
    assert msg.nack(delay=delay) is True  # "a" is waiting already: the two become one
    if delay:
        time.sleep(delay + 0.1)
    again = q.reserve(timeout=2)
    assert again.value == "a" and again.ack() is True
    with pytest.raises(hotsync.Empty):
        q.reserve(block=False)
    assert q.qsize() == 0
    assert q.unfinished_tasks() == 0  # nothing is left to do: join() must not hang
    q.join()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", SET_KINDS, ids=_name)
def test_replaying_a_dead_set_member_that_waits_already_does_not_leave_an_unfinished_task(client, cls):
    q = cls(key="replaymerge", client=client, max_attempts=1)
    q.put("a")
    q.reserve(timeout=1).nack()  # 1 delivery of 1: dead-lettered
    assert q.dead_count() == 1 and q.unfinished_tasks() == 0
    q.put("a")
    q.replay_dead()  # "a" waits already: the dead letter merges into it
    assert q.dead_count() == 0
    assert q.qsize() == 1
    q.get(timeout=1)
    q.task_done()
    assert q.unfinished_tasks() == 0
    q.join()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_a_message_reserved_after_its_consumer_renewed_its_lease_is_not_taken_back_by_a_late_reaper(client, cls):
    """The reaper reads the expired consumers, then requeues their lists in another call: a
    consumer that renewed its lease in between (a stalled process resuming) keeps what it holds."""
    a = cls(key="latereap", client=client, lease=0.3)
    b = cls(key="latereap", client=client, lease=0.3)
    a.put_many([1, 2])
    first = a.reserve(timeout=1)
    c = a._consumer()
    scheduler().cancel(c.lease)  # a stalls: no heartbeat
    c.lease = None
    time.sleep(0.45)
    # the reaper (b's heartbeat) sees a's lease ran out ...
    reply = client.perform(Eval(_HEARTBEAT, (b._consumers_key,), ("", b._lease_ms)))
    dead = [d.decode() for d in reply[1:]]
    assert dead == [c.id]
    # ... a resumes: its heartbeat renews the lease, and it reserves another message
    assert int(client.perform(Eval(_HEARTBEAT, (a._consumers_key,), (c.id, a._lease_ms)))[0]) == 1
    a._heartbeat(c)
    second = a.reserve(timeout=1)
    # ... then the reaper acts on what it read: a's lease is live, its messages stay with it
    b._reap_consumers(dead)
    with pytest.raises(hotsync.Empty):
        b.reserve(block=False)  # else a message held under a live lease goes to a second consumer
    assert second.ack() is True and first.ack() is True
    assert a.unfinished_tasks() == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", SET_KINDS, ids=_name)
def test_a_set_queue_message_nacked_with_a_delay_keeps_its_id(client, cls):
    q = cls(key="nackid", client=client)
    q.put_many([1, 2])
    first = q.reserve(timeout=1)
    assert first.nack(delay=0.1) is True
    time.sleep(0.25)
    seen = {}
    for _ in range(2):
        m = q.reserve(timeout=2)
        seen[m.value] = m
        m.ack()
    again = seen[first.value]
    assert again.attempts == 2
    assert again.id == first.id  # "stable across redeliveries"


@pytest.mark.timeout(30)
def test_two_puts_in_one_transaction_wake_two_blocked_reservers_of_a_priority_queue(client):
    q = hotsync.PriorityQueue(key="wake2", client=client)
    got = []

    def work():
        r = hotsync.PriorityQueue(key="wake2", client=client)
        m = r.reserve(timeout=8)
        got.append(time.monotonic())
        m.ack()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while client.redis.zcard(q._waiters) < 2:  # both reservers are blocked in Redis
        assert time.monotonic() < deadline
        time.sleep(0.01)
    start = time.monotonic()
    with hotsync.transaction(client):
        q.put((1, "x"))
        q.put((1, "y"))
    for t in threads:
        t.join(15)
    assert len(got) == 2
    assert max(got) - start < 2.0  # not left waiting until the end of its wait with an item ready


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.LifoQueue], ids=_name)
def test_a_consumer_reaped_after_a_stall_that_reserves_again_at_once_is_registered_when_the_message_lands(
        client, raw, cls):
    """The reaper takes a stalled consumer out of the consumers set; the consumer still
    believes it is registered, and its next reserve (within a second of the last prepare:
    the fast path, the native pop alone) must not fill an in-flight list nobody reaps."""
    a = cls(key="reregister", client=client, lease=0.3)
    b = cls(key="reregister", client=client, lease=0.3)
    a.put(1)
    a.reserve(timeout=1).ack()
    c = a._consumer()
    scheduler().cancel(c.lease)  # a stalls: no heartbeat
    c.lease = None
    time.sleep(0.4)
    assert b.reap() == 0  # a's lease ran out: the reaper forgets it (its list is empty)
    assert raw.zscore(a._consumers_key, c.id) is None
    a.put(2)
    msg = a.reserve(timeout=1)
    # else a process dying now (before its next heartbeat) loses the message forever
    assert raw.zscore(a._consumers_key, c.id) is not None
    assert msg.ack() is True


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.LifoQueue], ids=_name)
def test_a_message_that_arrives_after_a_stalled_consumer_was_reaped_during_its_wait_belongs_to_a_registered_consumer(
        client, raw, cls):
    """A reserve waits longer than the lease while its heartbeat stalls: the reaper takes the
    consumer out of the consumers set meanwhile; the message that then arrives must not land
    in an in-flight list nobody reaps."""
    a = cls(key="midwait", client=client, lease=0.3)
    b = cls(key="midwait", client=client, lease=0.3)
    got = []
    t = threading.Thread(target=lambda: got.append(a.reserve(timeout=5)))
    t.start()
    try:
        deadline = time.monotonic() + 5
        while not a._consumers and time.monotonic() < deadline:
            time.sleep(0.01)
        (c,) = a._consumers.values()
        while c.lease is None and time.monotonic() < deadline:
            time.sleep(0.01)
        scheduler().cancel(c.lease)  # a's renewal thread stalls: no heartbeat
        c.lease = None
        time.sleep(0.5)
        b.reap()  # a's lease ran out (as far as Redis can tell)
        a.put(1)
    finally:
        t.join(10)
    assert got and got[0].value == 1
    # else a process dying now loses the message forever
    assert raw.zscore(a._consumers_key, c.id) is not None
    assert got[0].ack() is True


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_a_message_acked_by_another_thread_while_a_lost_reserve_is_recovered_is_not_handed_out_again(client, cls):
    """A reserve whose reply was lost adopts what its in-flight list holds beyond the messages
    the consumer knows it holds.  Another thread acks one of those between the read of the list
    and the comparison: the acked message must not be taken for the lost one."""
    q = cls(key="recoverack", client=client)
    q.put_many([1, 2])
    held = q.reserve(timeout=1)
    c = q._consumer()
    client.perform(q._pop_call(1, c, 0, ""))  # a reserve that moved the other one to us, its reply lost
    recover = q._recover(c)
    entries = client.perform(next(recover))  # the recovery reads the in-flight list ...
    assert held.ack() is True  # ... another thread acks the held one (its reply arrives) ...
    with pytest.raises(StopIteration) as done:
        recover.send(entries)  # ... then the recovery picks what it does not know it holds
    adopted = done.value.value
    assert [q._message(c, e).value for e in adopted] == [3 - held.value]  # the lost one
    assert c.orphans == []  # else the next reserve hands out the acked one again, and its ack says False
    with pytest.raises(hotsync.Empty):
        q.reserve(block=False)


def _deliveries_until_dead(q):
    """Reserve and nack until the queue has nothing left; return how many deliveries that took."""
    n = 0
    while True:
        try:
            msg = q.reserve(block=False)
        except hotsync.Empty:
            return n
        n += 1
        assert n <= 10, "a poison member keeps coming back"
        msg.nack()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("end", ["ack", "nack"], ids=["acked", "dead_lettered"])
@pytest.mark.parametrize("cls", SET_KINDS, ids=_name)
def test_settling_one_copy_of_a_set_member_keeps_the_attempt_count_of_the_copy_waiting_again(client, cls, end):
    """A member put again while a copy is reserved has two messages; when the reserved copy is
    acked or dead-lettered, the other one, nacked and waiting, keeps its count of deliveries."""
    q = cls(key="twocopies", client=client, max_attempts=2)
    q.put("a")
    first = q.reserve(timeout=1)
    if end == "nack":
        first.nack()
        first = q.reserve(timeout=1)  # its last attempt
    q.put("a")  # a second message: the first copy is reserved, not waiting
    second = q.reserve(timeout=1)
    assert second.attempts == 1 and second.nack() is True  # waits again: 1 delivery
    assert getattr(first, end)() is True  # done, or its 2nd failure: dead-lettered
    again = q.reserve(timeout=1)
    assert again.value == "a" and again.id == second.id
    assert again.attempts == 2  # not 1: that would start its count over
    assert again.nack() is True
    assert q.dead_count() == (2 if end == "nack" else 1)
    assert _deliveries_until_dead(q) == 0  # its 2 deliveries are all max_attempts=2 allows
    assert q.unfinished_tasks() == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", SET_KINDS, ids=_name)
def test_a_set_member_given_back_into_its_waiting_copy_is_not_delivered_more_than_max_attempts_times(client, cls):
    """A nacked message that merges into a copy of its member put meanwhile continues as that
    copy: the merged message counts the larger of the two counts of deliveries."""
    q = cls(key="mergecount", client=client, max_attempts=3)
    q.put("a")
    msg = q.reserve(timeout=1)
    msg.nack()
    msg = q.reserve(timeout=1)
    assert msg.attempts == 2
    q.put("a")  # a fresh copy waits
    assert msg.nack() is True  # merges into the waiting copy
    assert q.qsize() == 1 and q.unfinished_tasks() == 1
    merged = q.reserve(timeout=1)
    assert merged.attempts == 3  # the nacked message's 3rd delivery, the last one allowed
    assert merged.nack() is True
    assert q.dead_count() == 1
    assert _deliveries_until_dead(q) == 0
    assert q.unfinished_tasks() == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", SET_KINDS, ids=_name)
def test_a_set_member_given_back_into_its_copy_nacked_with_a_delay_keeps_the_larger_count_and_that_copys_id(
        client, cls):
    q = cls(key="mergedelayed", client=client, max_attempts=3)
    q.put("a")
    q.reserve(timeout=1).nack()
    older = q.reserve(timeout=1)
    assert older.attempts == 2
    q.put("a")
    newer = q.reserve(timeout=1)
    assert newer.nack(delay=0.2) is True  # delayed, 1 delivery, keeps its stamp
    assert older.nack() is True  # merges into the delayed copy
    time.sleep(0.3)
    merged = q.reserve(timeout=2)
    assert merged.id == newer.id
    assert merged.attempts == 3  # the older message's 3rd delivery, the last one allowed
    assert merged.nack() is True
    assert q.dead_count() == 1
    assert _deliveries_until_dead(q) == 0
    assert q.unfinished_tasks() == 0


def _keys_of(raw, prefix):
    """Every key of this test with its type, content (DUMP) and whether it has a TTL."""
    return {k: (raw.type(k), raw.dump(k), raw.pttl(k) > 0) for k in raw.scan_iter(match=f"*{prefix}*")}


def _item(cls, value):
    return (1, value) if cls is hotsync.PriorityQueue else value


@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_a_queue_on_a_key_of_another_type_raises_wrong_type_naming_it_and_stores_no_settings(client, raw, prefix, cls):
    other = {"string": lambda k: raw.set(k, "x"), "hash": lambda k: raw.hset(k, "f", "v"),
             "other structure": lambda k: raw.zadd(k, {"m": 1}) if not cls._zset else raw.rpush(k, "m")}
    for kind, store in other.items():
        store(f"{prefix}taken-{kind}")
        before = _keys_of(raw, prefix)
        with pytest.raises(hotsync.WrongTypeError) as err:
            cls(2, f"taken-{kind}", client, max_attempts=3)
        assert err.value.key == f"{prefix}taken-{kind}"
        assert _keys_of(raw, prefix) == before, f"{kind}: settings were written"
    # settings stored without max_attempts, then the key reused: naming one stores nothing either
    cls(2, "reused", client)
    raw.set(f"{prefix}reused", "x")
    before = _keys_of(raw, prefix)
    with pytest.raises(hotsync.WrongTypeError):
        cls(2, "reused", client, max_attempts=3)
    assert _keys_of(raw, prefix) == before


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cls", KINDS, ids=_name)
def test_each_operation_on_a_queue_whose_key_now_holds_another_type_raises_wrong_type_and_writes_nothing(
        client, raw, prefix, cls):
    q = cls(key="jobs", client=client, lease=60, max_attempts=2, maxsize=0)
    q.put(_item(cls, "dead"))
    for _ in range(2):  # two deliveries: the second nack dead-letters it
        assert q.reserve(timeout=1).nack() is True
    q.put(_item(cls, "held"))
    held = q.reserve(timeout=1)
    q.put(_item(cls, "delayed"), delay=0.05)
    time.sleep(0.1)  # due: the next look at the queue would promote it
    assert q.dead_count() == 1 and q.qsize() == 1
    raw.delete(f"{prefix}jobs")
    raw.set(f"{prefix}jobs", "not a queue")
    fresh = cls(key="jobs", client=client, lease=60, max_attempts=2)  # settings stored: no check
    operations = {
        "put": lambda: fresh.put(_item(cls, "new")),
        "put_delay": lambda: fresh.put(_item(cls, "new"), delay=1),
        "put_many": lambda: fresh.put_many([_item(cls, "a"), _item(cls, "b")]),
        "get": lambda: fresh.get(timeout=0.1),
        "get_nowait": lambda: fresh.get_nowait(),
        "get_many": lambda: fresh.get_many(2, block=False),
        "reserve": lambda: fresh.reserve(timeout=0.1),
        "reserve_nowait": lambda: fresh.reserve(block=False),
        "qsize": lambda: fresh.qsize(),
        "empty": lambda: fresh.empty(),
        "nack": lambda: held.nack(),
        "nack_delay": lambda: held.nack(delay=1),
        "requeue_consumer": lambda: q.requeue_consumer(held._consumer.id),
        "replay_dead": lambda: q.replay_dead(),
        "shutdown": lambda: fresh.shutdown(),
        "shutdown_immediate": lambda: fresh.shutdown(immediate=True),
    }
    before = _keys_of(raw, prefix)
    for name, operation in operations.items():
        with pytest.raises(hotsync.WrongTypeError) as err:
            operation()
        assert err.value.key == f"{prefix}jobs", name
        assert _keys_of(raw, prefix) == before, f"{name} wrote before failing"
