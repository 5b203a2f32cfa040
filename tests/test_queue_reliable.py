"""reserve / ack / nack, redelivery of a dead consumer's messages, dead letters, lost replies."""

from __future__ import annotations

import threading
import time

import pytest
import redis

import hotsync
from hotsync._renewal import scheduler

from ._faultproxy import FaultProxy

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]
ids = [k.__name__ for k in KINDS]


def die(q):
    """Make q's consumer look dead: its heartbeat stops (as after SIGKILL)."""
    c = q._consumer()
    scheduler().cancel(c.lease)
    c.lease = None
    c.held.clear()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_ack_finishes_a_message_once_and_counts_as_task_done(client, cls):
    q = cls(key="ack", client=client)
    q.put(5)
    msg = q.reserve(timeout=1)
    assert (msg.value, msg.attempts) == (5, 1) and isinstance(msg.id, str)
    assert q.qsize() == 0 and q.unfinished_tasks() == 1
    assert msg.ack() is True
    assert msg.ack() is False and msg.nack() is False
    assert q.unfinished_tasks() == 0
    q.join()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_nack_redelivers_with_one_more_attempt_and_the_same_id(client, cls):
    q = cls(key="nack", client=client)
    q.put(5)
    first = q.reserve()
    assert first.nack() is True
    again = q.reserve(timeout=1)
    assert (again.value, again.id, again.attempts) == (5, first.id, 2)
    again.ack()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_nack_with_delay_holds_the_message_back(client, cls):
    q = cls(key="nackd", client=client)
    q.put(1)
    q.reserve().nack(delay=0.4)
    with pytest.raises(hotsync.Empty):
        q.reserve(block=False)
    start = time.monotonic()
    msg = q.reserve(timeout=5)
    assert msg.attempts == 2 and 0.2 < time.monotonic() - start < 3
    msg.ack()


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_the_with_block_acks_on_success_and_nacks_on_error(client, cls):
    q = cls(key="with", client=client)
    q.put_many([1, 2])
    with q.reserve() as msg:
        pass
    assert msg.settled == "acked"
    with pytest.raises(KeyError), q.reserve() as msg2:
        raise KeyError("boom")
    assert msg2.settled == "nacked"
    assert q.reserve(timeout=1).attempts == 2


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_after_max_attempts_a_message_is_dead_lettered_listed_replayed_and_purged(client, cls):
    q = cls(key="dlq", client=client, max_attempts=2)
    q.put_many([1, 2])
    for _ in range(4):
        q.reserve().nack()
    with pytest.raises(hotsync.Empty):
        q.reserve(block=False)
    assert q.dead_count() == 2 and q.unfinished_tasks() == 0
    dead = q.dead_letters()
    assert sorted(d.value for d in dead) == [1, 2] and {d.attempts for d in dead} == {2}
    q.join()  # dead letters are not unfinished tasks
    assert q.replay_dead(limit=1) == 1
    assert q.dead_count() == 1 and q.unfinished_tasks() == 1
    msg = q.reserve(timeout=1)
    assert msg.attempts == 1
    msg.ack()
    assert q.purge_dead() == 1 and q.dead_count() == 0


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_a_dead_consumers_messages_are_redelivered_after_its_lease(client, cls):
    crashed = cls(key="reap", client=client, lease=0.3)
    q = cls(key="reap", client=client, lease=0.3)
    q.put_many([1, 2])
    held = crashed.reserve()
    die(crashed)
    assert q.reap() == 0  # its lease has not run out yet
    time.sleep(0.45)
    assert q.reap() == 1
    got = sorted((q.reserve(timeout=1), q.reserve(timeout=1)), key=lambda m: m.attempts)
    assert [m.attempts for m in got] == [1, 2] and got[1].id == held.id
    assert held.ack() is False  # it was given to someone else
    for m in got:
        m.ack()
    assert q.unfinished_tasks() == 0


@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.PriorityQueue], ids=["Queue", "PriorityQueue"])
def test_a_blocked_consumer_gets_a_dead_consumers_message_without_calling_reap(client, cls):
    crashed = cls(key="reap2", client=client, lease=0.3)
    q = cls(key="reap2", client=client, lease=0.3)
    q.put(1)
    crashed.reserve()
    die(crashed)
    start = time.monotonic()
    msg = q.reserve(timeout=10)  # its own heartbeat reaps the dead consumer
    assert msg.attempts == 2 and time.monotonic() - start < 0.3 + 1.5
    msg.ack()


def test_a_long_job_keeps_its_message_while_the_process_lives(client):
    q = hotsync.Queue(key="long", client=client, lease=0.3)
    other = hotsync.Queue(key="long", client=client, lease=0.3)
    q.put(1)
    msg = q.reserve()
    time.sleep(1.0)  # > 3 leases: the heartbeat keeps it
    assert other.reap() == 0
    with pytest.raises(hotsync.Empty):
        other.reserve(timeout=0.2)
    assert msg.ack() is True


@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.LifoQueue], ids=lambda c: c.__name__)
def test_a_message_moved_into_a_busy_consumers_list_behind_its_back_is_given_back(client, raw, cls):
    # a reserve's BLMOVE delivered late by a half-open connection: the server moves a
    # message into the list of a consumer that gave up on that call, and the reply
    # reaches nobody.  The consumer stays busy (it holds another message), so it never
    # leaves; its heartbeat must give the stray back.
    q = cls(key="strays", client=client, lease=0.6)
    q.put_many(["held", "stray"] if cls is hotsync.Queue else ["stray", "held"])
    msg = q.reserve(timeout=1)
    assert msg.value == "held"
    front = "RIGHT" if cls is hotsync.Queue else "LEFT"
    assert raw.lmove(q._main, msg._consumer.inflight, front, "LEFT") is not None
    other = cls(key="strays", client=client)
    started = time.monotonic()
    stray = other.reserve(timeout=5)
    assert stray.value == "stray" and stray.attempts == 2  # given back as a nack would
    assert time.monotonic() - started < 0.6 + 1.0  # within a heartbeat or two
    assert stray.ack() is True
    time.sleep(0.5)  # more beats: the message it does hold stays its own
    assert msg.ack() is True
    assert raw.llen(msg._consumer.inflight) == 0


def test_orphans_a_consumer_never_adopts_go_back_when_it_is_idle(client, raw):
    # _recover keeps the extra messages that several lost replies moved into a
    # consumer's list as orphans for its next reserves; a thread that never reserves
    # again must not keep them (nor its entry in {K}:consumers) while the process lives
    q = hotsync.Queue(key="orphans", client=client, lease=0.6)
    q.put_many(["first", "orphan"])
    msg = q.reserve(timeout=1)
    c = msg._consumer
    entry = raw.lmove(q._main, c.inflight, "RIGHT", "LEFT")  # moved by a reply that was lost
    with c.lock:
        c.orphans.append(entry)  # as _recover records it
    assert msg.ack() is True
    other = hotsync.Queue(key="orphans", client=client)
    back = other.reserve(timeout=5)
    assert back.value == "orphan"
    assert back.ack() is True
    wait_for = time.monotonic() + 3
    while raw.zscore(q._consumers_key, c.id) is not None and time.monotonic() < wait_for:
        time.sleep(0.05)
    assert raw.zscore(q._consumers_key, c.id) is None and not c.orphans


def test_each_thread_is_its_own_consumer(client):
    q = hotsync.Queue(key="threads", client=client)
    q.put_many(range(20))
    got = []

    def work():
        while True:
            try:
                with q.reserve(timeout=0.2) as m:
                    got.append(m.value)
            except hotsync.Empty:
                return

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(got) == list(range(20))
    assert len({c.id for c in q._consumers.values()}) == 4


@pytest.fixture
def proxy(private_server):
    p = FaultProxy(private_server.port)
    yield p
    p.close()


def _faulty_client(url):
    return hotsync.HotClient.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2, metrics=False,
                                      retry=hotsync.RetryPolicy(budget=5))


def _drop_replies_for(proxy, seconds):
    proxy.set("drop_replies")
    threading.Timer(seconds, proxy.set, args=("pass",)).start()


@pytest.mark.slow
@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.SetQueue], ids=["Queue", "SetQueue"])
def test_a_put_whose_reply_was_lost_is_applied_once(proxy, private_server, cls):
    q = cls(key="lostput", client=_faulty_client(proxy.url))
    raw = redis.Redis(port=private_server.port)
    _drop_replies_for(proxy, 0.5)
    q.put(1)
    q.put(1 if cls is hotsync.SetQueue else 2)
    assert q.qsize() == (1 if cls is hotsync.SetQueue else 2)
    assert int(raw.hget(q._meta, "unfinished")) == q.qsize()


@pytest.mark.slow
@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue], ids=lambda c: c.__name__)
def test_a_reserve_whose_reply_was_lost_hands_out_the_moved_message(proxy, private_server, cls, monkeypatch):
    c = _faulty_client(proxy.url)
    q = cls(key="lostres", client=c)
    q.put(1)
    q.reserve().nack()  # loads the scripts: a NOSCRIPT reply would be lost too
    recovered = []
    original = cls._recover

    def spy(self, consumer):
        found = yield from original(self, consumer)
        recovered.append(found)
        return found

    monkeypatch.setattr(cls, "_recover", spy)
    _drop_replies_for(proxy, 0.5)
    msg = q.reserve(timeout=2)  # moved into our in-flight list, reply lost: recovered, not lost
    assert recovered and recovered[-1]
    assert msg.value == 1 and msg.attempts == 2
    assert msg.ack() is True
    assert q.qsize() == 0 and q.unfinished_tasks() == 0


@pytest.mark.slow
def test_an_ack_whose_reply_was_lost_is_applied_once(proxy, private_server):
    c = _faulty_client(proxy.url)
    q = hotsync.Queue(key="lostack", client=c)
    q.put_many([1, 2])
    msg = q.reserve()
    _drop_replies_for(proxy, 0.5)
    msg.ack()  # retried: the second run finds it gone and changes nothing
    assert q.unfinished_tasks() == 1


@pytest.mark.parametrize("cls", KINDS, ids=ids)
def test_consume_acks_each_message_with_the_next_reserve_and_nacks_on_error(client, cls):
    q = cls(key="consume", client=client)
    q.put_many([1, 2, 3])
    seen = []
    for msg in q.consume(timeout=0.2):
        seen.append((msg.value, msg.attempts))
    assert sorted(seen) == [(1, 1), (2, 1), (3, 1)]
    assert q.unfinished_tasks() == 0 and q.qsize() == 0
    q.put(4)
    with pytest.raises(KeyError):
        for msg in q.consume(timeout=0.2):
            raise KeyError(msg.value)
    again = q.reserve(timeout=1)
    assert (again.value, again.attempts) == (4, 2)
    again.ack()
    q.put(5)
    for msg in q.consume(timeout=0.2):
        msg.ack()
        break
    assert q.unfinished_tasks() == 0


@pytest.mark.parametrize("cls,maxsize", [(hotsync.Queue, 0), (hotsync.LifoQueue, 5), (hotsync.PriorityQueue, 0),
                                         (hotsync.SetQueue, 0)],
                         ids=["plain", "bounded", "PriorityQueue", "SetQueue"])
def test_the_retry_guard_records_each_put_and_a_replayed_request_adds_nothing(client, raw, cls, maxsize):
    # every put script (queue_put_plain, queue_put, queue_zput) keeps the producer's
    # last request number with a TTL; a retry of it after a lost reply is answered -1
    q = cls(maxsize, key="guard", client=client)
    item = (lambda v: (1, v)) if cls is hotsync.PriorityQueue else (lambda v: v)
    q.put(item(1))
    q.put(item(2))
    p = q._producers[threading.get_ident()]
    assert raw.get(p[0]) == str(p[1]).encode()
    assert 0 < raw.pttl(p[0]) <= q._guard_ms
    replay = q._put_ops(q._encode([item(3)]), True, None, 0, p)
    assert client.drive(replay) == -1
    assert q.qsize() == 2 and q.unfinished_tasks() == 2
    # a guard is renewed ('+') once half its TTL may be gone, else it keeps its TTL
    raw.pexpire(p[0], 20_000)
    q.put(item(4))
    assert raw.pttl(p[0]) <= 20_000 and raw.get(p[0]) == str(p[1]).encode()
    p[2] = -1e18
    q.put(item(5))
    assert raw.pttl(p[0]) > q._guard_ms - 5_000 and p[2] > 0
