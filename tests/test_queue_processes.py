"""Queues across OS processes: exactly-once hand-off, join, SIGKILLed consumers, Redis restarts."""

from __future__ import annotations

import collections
import time

import pytest
import redis

import hotsync
from hotsync._embedded import RedisServer

from . import _queue_workers as w
from ._helpers import join_all, kill9, start, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["Queue", "PriorityQueue"])
def test_three_producers_and_three_consumers_hand_over_900_items_each_exactly_once(
    client, raw, prefix, redis_url, kind
):
    q = getattr(hotsync, kind)(key="jobs", client=client)
    procs = [start(w.producer, redis_url, prefix, kind, "jobs", i * 300, 300) for i in range(3)]
    consumers = [start(w.consumer, redis_url, prefix, kind, "jobs", "log") for _ in range(3)]
    wait_for(lambda: int(raw.get(f"{prefix}ready") or 0) == 6, 60, "workers ready")
    raw.set(f"{prefix}go", 1)
    join_all(procs, 120)
    for _ in consumers:
        q.put(None if kind == "Queue" else (10**6, None))
    join_all(consumers, 120)
    got = [int(v) for v in raw.lrange(f"{prefix}log", 0, -1)]
    assert sorted(got) == list(range(900))  # none lost, none twice
    assert q.qsize() == 0 and q.unfinished_tasks() == 0
    q.join()


@pytest.mark.timeout(120)
def test_join_waits_for_task_done_called_by_another_process(client, prefix, redis_url):
    q = hotsync.Queue(key="jq", client=client)
    q.put_many([1, 2, 3])
    worker = start(w.getter, redis_url, prefix, "Queue", "jq", 3, 0.5)
    start_at = time.monotonic()
    q.join()
    assert time.monotonic() - start_at >= 0.4
    join_all([worker], 60)
    assert q.unfinished_tasks() == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["Queue", "LifoQueue", "SetQueue"])
def test_a_sigkilled_consumers_message_is_redelivered_then_dead_lettered_then_replayed(
    client, raw, prefix, redis_url, kind
):
    lease = 1.0
    q = getattr(hotsync, kind)(key="crash", client=client, lease=lease, max_attempts=2)
    q.put("job")
    # first delivery: the holder dies with it
    holder = start(w.hold_message, redis_url, prefix, kind, "crash", lease, 2, "held1")
    wait_for(lambda: raw.get(f"{prefix}held1") is not None, 60, "first holder")
    first_id, attempts = raw.get(f"{prefix}held1").decode().split()
    assert attempts == "1"
    kill9(holder)
    killed = time.monotonic()
    # second delivery goes to a live consumer (its heartbeat reaps the dead one)
    msg = q.reserve(timeout=lease * 3 + 5)
    assert time.monotonic() - killed <= lease * 4 / 3 + 1.5
    assert (msg.value, msg.id, msg.attempts) == ("job", first_id, 2)
    assert msg.nack() is True  # attempt 2 of 2 failed: dead letter
    assert q.dead_count() == 1 and q.unfinished_tasks() == 0
    [dead] = q.dead_letters()
    assert (dead.value, dead.id, dead.attempts) == ("job", first_id, 2)
    # replayed, it dies again with a consumer, and is redelivered; this time acked
    assert q.replay_dead() == 1
    holder = start(w.hold_message, redis_url, prefix, kind, "crash", lease, 2, "held2")
    wait_for(lambda: raw.get(f"{prefix}held2") is not None, 60, "second holder")
    kill9(holder)
    msg = q.reserve(timeout=lease * 3 + 5)
    assert (msg.value, msg.attempts) == ("job", 2)
    assert msg.ack() is True
    assert q.qsize() == 0 and q.dead_count() == 0 and q.unfinished_tasks() == 0


@pytest.mark.timeout(180)
def test_redis_restarted_mid_run_no_acked_item_reappears_and_none_vanishes(tmp_path, prefix):
    server = RedisServer(args=["--appendonly", "yes", "--appendfsync", "always"], dir=str(tmp_path)).start()
    try:
        n = 300
        log = tmp_path / "consumer.log"
        raw = redis.Redis(port=server.port)
        hotsync.Queue(key="r", client=hotsync.HotClient.from_url(server.url, key_prefix=prefix, metrics=False))
        producer = start(w.restart_producer, server.url, prefix, "r", n)
        consumer = start(w.restart_consumer, server.url, prefix, "r", n, str(log))
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) > 60, 60, "progress")
        assert producer.is_alive() and consumer.is_alive()  # mid-run
        server.kill()
        time.sleep(0.5)
        server.start()
        join_all([producer, consumer], 120)
        events = [line.split() for line in log.read_text().splitlines()]
        delivered = collections.Counter(int(e[1]) for e in events if e[0] == "d")
        assert set(delivered) == set(range(n))  # nothing vanished
        acked_at: dict[int, float] = {}
        for e in events:
            value, at = int(e[1]), float(e[-1])
            if e[0] == "a" and e[2] == "1":
                assert value not in acked_at, f"{value} acked twice"
                acked_at[value] = at
            if e[0] == "d":
                assert value not in acked_at, f"{value} delivered again after its ack"
        meta = raw.hgetall(f"{{{prefix}r}}:meta")
        assert int(meta.get(b"unfinished", 0)) == 0
        assert raw.llen(f"{prefix}r") == 0
    finally:
        server.stop()
