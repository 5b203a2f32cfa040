"""Queue statistics, enqueue times, inspection and the exporter, and requeueing a stuck consumer."""

from __future__ import annotations

import os
import signal
import time

import pytest
from prometheus_client import CollectorRegistry

import hotsync
from hotsync._queue_stats import consumer_host_pid
from hotsync.exporter import LiveStateCollector
from hotsync.inspect import inspect

from . import _queue_workers as w
from ._helpers import join_all, start, wait_for

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]
ids = [k.__name__ for k in KINDS]


def item(cls, i, prio=1):
    return (prio, i) if cls is hotsync.PriorityQueue else i


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_an_empty_queue_reports_zeros_and_its_configuration(client, cls):
    st = cls(7, "empty", client).statistics()
    assert (st.depth, st.oldest_age, st.in_flight, st.in_flight_by_consumer, st.consumers) == (0, 0.0, 0, {}, 0)
    assert (st.dead_letters, st.delayed, st.unfinished, st.maxsize, st.shutdown) == (0, 0, 0, 7, False)
    assert st.expired_consumers == ()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_statistics_count_ready_in_flight_dead_and_delayed_items_and_consumers(client, cls):
    q = cls(key="st", client=client, max_attempts=1)
    q.put_many([item(cls, i) for i in range(4)])
    q.put(item(cls, 9), delay=30)
    held = q.reserve()
    q.reserve().nack()  # max_attempts=1: a dead letter
    st = q.statistics()
    assert (st.depth, st.delayed, st.in_flight, st.dead_letters, st.unfinished) == (2, 1, 1, 1, 4)
    assert st.consumers == 1 and st.in_flight_by_consumer == {held._consumer.id: 1}
    assert consumer_host_pid(held._consumer.id)[1] == os.getpid()
    assert q.qsize() == st.depth + st.delayed
    held.ack()
    q.shutdown()
    st = q.statistics()
    assert (st.in_flight, st.unfinished, st.shutdown) == (0, 3, True)


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_oldest_age_is_the_wait_of_the_longest_waiting_item_whatever_the_order(client, cls):
    q = cls(key="age", client=client)
    q.put(item(cls, "old", prio=5))  # the lowest priority: last out of a PriorityQueue
    time.sleep(0.4)
    q.put_many([item(cls, f"new{i}", prio=1) for i in range(3)])
    first = q.statistics().oldest_age
    assert 0.35 <= first < 5
    time.sleep(0.2)
    assert q.statistics().oldest_age >= first + 0.15  # it keeps growing while it waits


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_redelivered_message_keeps_its_age_and_a_replayed_one_starts_again(client, cls):
    q = cls(key="age2", client=client, max_attempts=2)
    q.put(item(cls, "x"))
    time.sleep(0.3)
    q.reserve().nack()
    assert q.statistics().oldest_age >= 0.25
    q.reserve().nack()  # second attempt: dead
    assert q.statistics().depth == 0 and q.replay_dead() == 1
    assert q.statistics().oldest_age < 0.25


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_delayed_item_counts_as_ready_once_due_and_ages_from_its_due_time(client, cls):
    q = cls(key="age3", client=client)
    q.put(item(cls, "d"), delay=0.2)
    st = q.statistics()
    assert (st.depth, st.delayed, st.oldest_age) == (0, 1, 0.0)
    time.sleep(0.6)  # due, not promoted yet (nobody got)
    st = q.statistics()
    assert (st.depth, st.delayed) == (1, 0) and 0.3 <= st.oldest_age < 3
    assert q.get(timeout=1) == item(cls, "d")
    assert q.statistics().oldest_age == 0.0


def test_list_envelopes_carry_the_server_time_of_the_put(client, raw):
    q = hotsync.Queue(key="env", client=client)
    q.put("x")
    q.put("y", delay=5)
    seconds, micros = raw.time()
    now_ms = seconds * 1000 + micros // 1000
    [entry] = raw.lrange(q._main, 0, -1)
    enqueued, mid, deliveries, payload = entry.split(b"|", 3)
    assert deliveries == b"0" and payload == b'"x"' and 0 <= now_ms - int(enqueued) < 2000
    [(delayed, due)] = raw.zrange(q._delayed, 0, -1, withscores=True)
    assert int(delayed.split(b"|")[0]) == int(due)  # a delayed item's wait starts when it is due


def test_priority_queue_members_are_unique_and_fifo_among_equal_priorities_within_one_millisecond(client):
    q = hotsync.PriorityQueue(key="pqfifo", client=client)
    q.put_many([(1, "same")] * 1500 + [(0, "first")])
    got = q.get_many(2000)
    assert got == [(0, "first")] + [(1, "same")] * 1500
    q.put_many([(1, "same")] * 50)
    msgs = [q.reserve() for _ in range(50)]
    assert len({m.id for m in msgs}) == 50


@pytest.mark.parametrize("cls", [hotsync.SetQueue, hotsync.LifoSetQueue], ids=lambda c: c.__name__)
def test_set_queue_stamps_keep_members_unique_ordered_and_a_nacked_member_in_its_place(client, cls):
    q = cls(key="sq", client=client)
    assert q.put_many(list(range(1200)) + [5, 7]) == 1200
    first = q.reserve()
    assert first.value == (0 if cls is hotsync.SetQueue else 1199)
    first.nack()
    got = q.get_many(2000)
    assert got == (list(range(1200)) if cls is hotsync.SetQueue else list(range(1199, -1, -1)))
    q.put_many(range(100))
    assert len({q.reserve().id for _ in range(100)}) == 100


def test_inspect_and_the_exporter_report_a_queues_live_state(client, prefix):
    q = hotsync.Queue(key="jobs", client=client, max_attempts=1)
    q.put_many(["a", "b", "c", "d"])
    time.sleep(0.2)
    held = q.reserve()
    q.reserve().nack()  # dead letter
    pq = hotsync.PriorityQueue(key="pjobs", client=client)
    pq.put((3, "p"))
    states = {s.key: s for s in inspect(client)}
    st = states[f"{prefix}jobs"].state
    assert states[f"{prefix}jobs"].kind == "queue"
    assert (st["depth"], st["in_flight"], st["dead_letters"], st["delayed"], st["unfinished"]) == (2, 1, 1, 0, 3)
    assert st["consumers"] == 1 and st["maxsize"] == 0 and st["shutdown"] is False and st["oldest_age"] >= 0.15
    assert st["in_flight_by_consumer"] == {held._consumer.id: 1}
    [row] = st["consumer_list"]
    assert row["pid"] == os.getpid() and row["in_flight"] == 1 and row["expired"] is False
    assert states[f"{prefix}pjobs"].state["depth"] == 1
    registry = CollectorRegistry()
    registry.register(LiveStateCollector(client))
    labels = {"kind": "queue", "name": f"{prefix}jobs"}
    value = lambda name: registry.get_sample_value(name, labels)  # noqa: E731
    assert (value("hotsync_queue_depth"), value("hotsync_queue_in_flight"), value("hotsync_queue_dead_letters")) == (
        2, 1, 1)
    assert value("hotsync_queue_unfinished_tasks") == 3 and value("hotsync_queue_consumers") == 1
    assert value("hotsync_queue_delayed") == 0 and value("hotsync_queue_oldest_age_seconds") >= 0.15
    assert registry.get_sample_value("hotsync_queue_depth", {"kind": "priorityqueue", "name": f"{prefix}pjobs"}) == 1
    assert registry.get_sample_value("hotsync_exporter_objects", {"kind": "queue"}) == 1
    held.ack()


def test_inspecting_a_queue_writes_nothing(client, raw, prefix):
    q = hotsync.SetQueue(3, "ro", client)
    q.put(1)
    before = {k: raw.dump(k) for k in raw.keys("*")}
    inspect(client)
    assert {k: raw.dump(k) for k in raw.keys("*")} == before


def test_requeue_consumer_checks_its_argument_and_counts_nothing_for_an_unknown_consumer(client):
    q = hotsync.Queue(key="rq", client=client)
    with pytest.raises(TypeError):
        q.requeue_consumer(None)
    with pytest.raises(ValueError):
        q.requeue_consumer("")
    assert q.requeue_consumer("nobody/1/x/y/z") == 0


def test_requeue_consumer_dead_letters_at_max_attempts_like_the_reaper(client):
    stuck = hotsync.Queue(key="rq2", client=client, max_attempts=2)
    stuck.put_many([1, 2])
    first = stuck.reserve()
    first.nack()
    held = [stuck.reserve(), stuck.reserve()]  # attempts 2 (value 1) and 1 (value 2)
    cid = held[0]._consumer.id
    assert hotsync.Queue(key="rq2", client=client).requeue_consumer(cid) == 2
    assert stuck.dead_count() == 1 and [d.value for d in stuck.dead_letters()] == [held[0].value]
    assert [m.ack() for m in held] == [False, False]
    again = stuck.reserve(timeout=1)
    assert (again.value, again.attempts) == (held[1].value, 2)
    again.ack()
    assert stuck.unfinished_tasks() == 0


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["Queue", "PriorityQueue"])
def test_an_operator_requeues_a_stopped_consumers_message_and_its_late_ack_reports_false(
    client, raw, prefix, redis_url, kind
):
    q = getattr(hotsync, kind)(key="stuck", client=client, max_attempts=3)
    q.put("job" if kind == "Queue" else (1, "job"))
    worker = start(w.stuck_consumer, redis_url, prefix, kind, "stuck", "held", "go", "late")
    wait_for(lambda: raw.get(f"{prefix}held") is not None, 60, "the consumer holds the message")
    held_id, attempts = raw.get(f"{prefix}held").decode().split()
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        st = q.statistics()
        [(cid, count)] = st.in_flight_by_consumer.items()
        assert count == 1 and consumer_host_pid(cid)[1] == worker.pid and st.depth == 0
        operator = start(w.requeue_consumer, redis_url, prefix, kind, "stuck", cid, "requeued")
        join_all([operator], 60)
        assert raw.get(f"{prefix}requeued") == b"1"
        st = q.statistics()
        assert (st.depth, st.in_flight, st.unfinished) == (1, 0, 1)
        raw.rpush(f"{prefix}go", 1)
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    wait_for(lambda: raw.get(f"{prefix}late") is not None, 60, "the late ack")
    join_all([worker], 60)
    assert raw.get(f"{prefix}late") == b"0"  # the late ack reports False...
    assert q.qsize() == 1 and q.unfinished_tasks() == 1  # ...and removed nothing
    msg = q.reserve(timeout=5)
    assert (msg.id, msg.attempts, attempts) == (held_id, 2, "1")
    assert msg.ack() is True
    assert q.unfinished_tasks() == 0 and q.statistics().in_flight == 0


def test_a_late_promoted_delayed_item_at_the_back_of_a_fifo_list_is_still_the_oldest(client):
    q = hotsync.Queue(key="age4", client=client)
    q.put("d", delay=0.1)
    time.sleep(0.5)  # due at 0.1 s, not promoted: nobody got
    q.put_many(["n1", "n2"])
    assert q.get() == "n1"  # promotes "d" to the back of the line
    assert q.statistics().oldest_age >= 0.35  # "d" has been ready since 0.1 s; "n2" for ~0 s
    assert [q.get(), q.get()] == ["n2", "d"]
