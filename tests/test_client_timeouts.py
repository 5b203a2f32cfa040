"""A blocking command ends at its own timeout, not at the server's next tick.

Redis times a blocked client out when its event loop wakes; an idle server wakes
once per ``1/hz`` s (these tests use ``hz 1``: once a second).  The client nudges
it with a ``PING`` on another connection once a wait's timeout has passed
(``HotClient._await_reply``).  The server still decides what the blocked command
answers, so an item or a permit that arrives at that very moment is never lost:
the multi-process tests below make that happen hundreds of times.

Likewise a wait whose end depends on a script pipelined in front of it (a queue's
prepare, which wakes the pop when a delayed item falls due) must not outlast the
item's due time when the server has lost its script cache
(``HotClient._rescuer``).
"""

from __future__ import annotations

import queue
import time
import uuid

import pytest
import redis

import hotsync

from . import _queue_workers, _sem_workers
from ._helpers import join_all, overshoot, start


def _pings(r) -> int:
    return int(r.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))


def _go(c, prefix) -> None:
    """Wait for the spawned worker to be ready, then let it start."""
    while c.redis.get(f"{prefix}ready") is None:
        time.sleep(0.01)
    c.redis.set(f"{prefix}go", 1)


def test_a_blocking_command_answers_at_its_own_timeout_with_one_nudge(slow_tick_client):
    c = slow_tick_client
    key = f"{c.key_prefix}empty"
    before = _pings(c.redis)

    def give_up(timeout):
        assert c.execute("BLPOP", key, str(timeout), key=key, block=timeout) is None

    assert overshoot(give_up) < 0.5
    assert _pings(c.redis) - before >= 4  # one nudge per wait at least (the info call itself is not a PING)


def test_a_client_on_a_blocking_pool_leaves_the_timeout_to_the_server(slow_tick_url, prefix):
    # a nudge would borrow a second connection, which a blocking pool may not have
    pool = redis.BlockingConnectionPool.from_url(slow_tick_url, max_connections=1, timeout=1)
    c = hotsync.HotClient(client=redis.Redis(connection_pool=pool), key_prefix=prefix, metrics=False)
    server = redis.Redis.from_url(slow_tick_url)
    try:
        q = hotsync.Queue(key="q", client=c)
        before = _pings(server)
        started = time.monotonic()
        with pytest.raises(queue.Empty):
            q.get(timeout=0.05)
        assert 0.05 <= time.monotonic() - started < 3.0  # the server's tick ended it
        assert _pings(server) == before
    finally:
        c.close()
        server.close()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["get", "reserve"])
def test_items_put_as_short_waits_give_up_are_each_taken_exactly_once(slow_tick_url, slow_tick_client, prefix, how):
    c, count = slow_tick_client, 400
    key = f"q:{uuid.uuid4().hex[:8]}"
    q = hotsync.Queue(key=key, client=c)
    p = start(_queue_workers.trickle_producer, slow_tick_url, prefix, key, count, 7)
    _go(c, prefix)
    got, gave_up, end = [], 0, time.monotonic() + 60
    while len(got) < count and time.monotonic() < end:
        try:
            if how == "get":
                got.append(q.get(timeout=0.002))
            else:
                msg = q.reserve(timeout=0.002)
                got.append(msg.value)
                msg.ack()
        except queue.Empty:
            gave_up += 1
    join_all([p], 30)
    assert sorted(got) == list(range(count)), "an item was lost or taken twice"
    assert gave_up > 50, "the waits never gave up: the test did not exercise the nudge"
    assert q.qsize() == 0 and q.unfinished_tasks() == (count if how == "get" else 0)


@pytest.mark.timeout(90)
def test_permits_released_as_short_acquires_give_up_are_never_stranded(slow_tick_url, slow_tick_client, prefix):
    c = slow_tick_client
    key = f"s:{uuid.uuid4().hex[:8]}"
    sem = hotsync.Semaphore(1, key, c, lease=10)
    p = start(_sem_workers.churn_permit, slow_tick_url, prefix, key, 1, 300, 11, "go")
    _go(c, prefix)
    took = gave_up = 0
    while p.is_alive():
        if sem.acquire(timeout=0.002):
            took += 1
            sem.release()
        else:
            gave_up += 1
    join_all([p], 30)
    assert gave_up > 50 and took > 0, (took, gave_up)
    stats = sem.statistics()
    assert (stats.value, stats.in_use) == (1, 0), "a permit was stranded (or minted twice)"


@pytest.mark.parametrize("op", ["get", "get_many", "reserve"])
@pytest.mark.parametrize("cls", [hotsync.Queue, hotsync.PriorityQueue], ids=lambda c: c.__name__)
def test_a_wait_for_a_delayed_item_ends_when_it_is_due_after_the_server_lost_its_scripts(client, cls, op):
    # the prepare script pipelined before the blocking pop is what ends the wait at
    # the due time; after a restart or failover it meets NOSCRIPT, and the pop used
    # to wait out its whole timeout (30 s without one)
    q = cls(key=f"q:{uuid.uuid4().hex[:8]}", client=client)
    item = (1, "x") if cls is hotsync.PriorityQueue else "x"
    q.put(item, delay=0.05)
    client.redis.script_flush()
    started = time.monotonic()
    if op == "get":
        assert q.get(timeout=5) == item
    elif op == "get_many":
        assert q.get_many(3, timeout=5) == [item]
    else:
        msg = q.reserve(timeout=5)
        assert msg.value == item
        msg.ack()
    assert 0.04 <= time.monotonic() - started < 2.0


def test_a_blocking_batch_runs_a_script_the_server_lost_by_body_and_gets_its_reply(client):
    from hotsync._ops import Batch, Cmd
    from hotsync._scripts import script

    length = script("string_len")
    key = f"{client.key_prefix}{{b}}"
    client.redis.set(key, "héllo")
    client.redis.script_flush()
    unknown = "0" * 40  # no script of this process has that SHA: its NOSCRIPT stays
    calls = (Cmd(("EVALSHA", unknown, 0)), Cmd(("EVALSHA", length.sha, 1, key)),
             Cmd(("BLPOP", f"{key}:empty", "0.05")))
    replies = client.perform(Batch(calls, idempotent=False, block=0.05))
    assert isinstance(replies[0], redis.exceptions.NoScriptError)
    assert replies[1] == 5
    assert replies[2] is None
    assert client.redis.script_exists(length.sha) == [True]  # EVAL cached it again
