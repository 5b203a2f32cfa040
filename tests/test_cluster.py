"""hotsync on a real Redis Cluster (3 masters on loopback, started by the test)."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster, key_slot

import hotsync
from hotsync._embedded import RedisServer, free_port

pytestmark = pytest.mark.slow


def _port_with_free_bus_port() -> int:
    while True:
        port = free_port()
        if port + 10000 < 65535:
            return port


@pytest.fixture(scope="module")
def cluster():
    servers = []
    try:
        for _ in range(3):
            port = _port_with_free_bus_port()
            servers.append(RedisServer(port=port, args=[
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000"]).start())
        nodes = [redis.Redis(port=s.port) for s in servers]
        per = 16384 // 3
        for i, node in enumerate(nodes):
            end = 16383 if i == 2 else (i + 1) * per - 1
            node.execute_command("CLUSTER", "ADDSLOTS", *range(i * per, end + 1))
        for node in nodes[1:]:
            node.execute_command("CLUSTER", "MEET", "127.0.0.1", servers[0].port)
        deadline = time.monotonic() + 30
        while not all(n.cluster("info")["cluster_state"] == "ok" for n in nodes):
            assert time.monotonic() < deadline, "cluster did not converge"
            time.sleep(0.05)
        while True:  # every node knows every other node
            if all(len(n.cluster("nodes")) == 3 for n in nodes):
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield servers
    finally:
        for s in servers:
            s.stop()


@pytest.fixture
def cluster_client(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster[0].port)
    c = hotsync.HotClient(client=rc, metrics=False)
    yield c
    rc.close()


def test_locks_work_on_keys_spread_over_every_node(cluster_client):
    names = [f"lock-{i}" for i in range(12)]
    nodes = {cluster_client.redis.get_node_from_key(n).name for n in names}
    assert len(nodes) == 3
    locks = [hotsync.Lock(n, cluster_client, lease=0.6) for n in names]
    for lock in locks:
        assert lock.acquire(blocking=False)
        assert not hotsync.Lock(lock.key, cluster_client).acquire(blocking=False)
    time.sleep(1.0)  # the renewal scheduler batches per node; holds survive several leases
    for lock in locks:
        assert lock.owned()
        lock.release()
        assert not lock.locked()


def test_rlock_fair_lock_and_waiting_on_a_cluster(cluster_client):
    r = hotsync.RLock("rl", cluster_client)
    assert r.acquire() and r.acquire()
    r.release()
    r.release()
    holder = hotsync.Lock("fl", cluster_client, fair=True, lease=0.5, auto_renew=False)
    holder.acquire()
    start = time.monotonic()
    assert hotsync.Lock("fl", cluster_client, fair=True).acquire(timeout=5)  # woken by lease expiry
    assert time.monotonic() - start < 2


def test_every_key_of_a_lock_is_in_the_main_keys_slot(cluster_client):
    lock = hotsync.Lock("slotted", cluster_client, fair=True)
    keys = [lock._main, lock._fence_key, lock._waiters_key, lock._signal_key, lock._line_key,
            lock._tickets_key, lock._wait_key("o")]
    assert {key_slot(k.encode()) for k in keys} == {key_slot(b"slotted")}


@pytest.mark.timeout(30)
def test_a_fair_release_wakes_the_head_of_the_line_from_inside_its_script_on_a_cluster(cluster_client):
    # the release script pushes the head's wake-up list itself (a key it builds from
    # ARGV, in the lock's slot): a cross-slot or undeclared-key refusal would fail here
    holder = hotsync.Lock("fw", cluster_client, fair=True)
    holder.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(hotsync.Lock("fw", cluster_client, fair=True).acquire(timeout=10)))
    t.start()
    time.sleep(0.3)  # the waiter is in line and blocked on its wake-up list (lease 30 s)
    start = time.monotonic()
    holder.release()
    t.join(10)
    assert got == [True] and time.monotonic() - start < 1.0


@pytest.mark.timeout(30)
def test_a_fair_semaphore_release_wakes_the_next_in_line_from_inside_its_script_on_a_cluster(cluster_client):
    holder = hotsync.Semaphore(1, "fs", cluster_client, fair=True)
    assert holder.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(hotsync.Semaphore(1, "fs", cluster_client, fair=True).acquire(timeout=10)))
    t.start()
    time.sleep(0.3)  # in line, blocked on its own wake-up list (the holder's lease is 30 s)
    start = time.monotonic()
    holder.release()
    t.join(10)
    assert got == [True] and time.monotonic() - start < 1.0


def test_a_batch_whose_slot_is_being_migrated_follows_the_ask_redirect(cluster_client, cluster):
    # a single command followed -ASK, a pipeline handed the AskErrors back as replies
    from redis.cluster import key_slot

    from hotsync._ops import Batch, Cmd

    key = "{askbatch}"
    slot = key_slot(key.encode())
    source_port = cluster_client.redis.get_node_from_key(key).port
    nodes = {s.port: redis.Redis(port=s.port) for s in cluster}
    source = nodes[source_port]
    target = next(r for port, r in nodes.items() if port != source_port)
    source_id, target_id = (n.execute_command("CLUSTER", "MYID").decode() for n in (source, target))
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    try:
        replies = cluster_client.perform(Batch((Cmd(("INCR", key + ":n")), Cmd(("GET", key + ":n"))),
                                               idempotent=False))
        assert replies == [1, b"1"]
        assert cluster_client.command("GET", key + ":n") == b"1"
    finally:
        pipe = target.pipeline(transaction=False)  # the key went to the importing node
        pipe.execute_command("ASKING")
        pipe.execute_command("DEL", key + ":n")
        pipe.execute()
        for n in (source, target):
            n.execute_command("CLUSTER", "SETSLOT", slot, "NODE", source_id)
        for n in nodes.values():
            n.close()


@pytest.mark.timeout(30)
def test_a_guarded_transaction_runs_on_the_node_of_its_slot(cluster_client):
    # the WATCH, the queue's check and MULTI/EXEC go to the node that owns the slot
    q = hotsync.Queue(1, "{txc}:q", cluster_client)
    ledger = hotsync.List(key="{txc}:ledger", client=cluster_client)
    with hotsync.transaction(cluster_client):
        ledger.append("a")
        q.put("a")
    with pytest.raises(hotsync.TransactionError, match="not applied.*Full"), hotsync.transaction(cluster_client):
        ledger.append("b")
        q.put("b")
    assert ledger.value == ["a"] and q.get_nowait() == "a"


def test_a_cluster_client_refuses_to_be_pickled_and_says_why(cluster_client):
    with pytest.raises(TypeError, match="RedisCluster"):
        pickle.dumps(hotsync.Lock("pickled", cluster_client))
