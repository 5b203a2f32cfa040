"""Second audit of HotClient: each test reproduces a bug found by a review of the code."""

from __future__ import annotations

import gc
import threading
import time
import uuid

import pytest
import redis

import hotsync
from hotsync._embedded import RedisServer
from hotsync._ops import Batch, Cmd

from ._faultproxy import FaultProxy


@pytest.mark.timeout(60)
def test_hotclients_dropped_without_close_give_their_idle_connections_back_to_a_shared_pool(redis_url, prefix):
    shared = redis.Redis.from_url(redis_url)  # redis-py's default pool: at most 100 connections
    try:
        for i in range(130):  # one HotClient per "request", never closed
            hc = hotsync.HotClient(client=shared, metrics=False, key_prefix=prefix)
            with hotsync.Lock(f"req{i}", hc, lease=5, auto_renew=False):
                pass
            del hc
        gc.collect()
        assert len(shared.connection_pool._in_use_connections) <= 4
        assert shared.ping() is True
    finally:
        shared.close()


@pytest.mark.parametrize("batch", [
    [("CLIENT", "REPLY", "OFF"), ("SET", "x", "1")],
    [("CLIENT", "REPLY", "ON"), ("SET", "x", "1")],
    [("SET", "x", "1"), ("CLIENT", "REPLY", "SKIP")],  # skips nothing it sends
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "SKIP"), ("SET", "x", "1")],
], ids=["off", "on", "skip-last", "skip-skip"])
def test_client_reply_commands_that_would_put_the_connection_out_of_step_are_refused_before_sending(
        client, raw, prefix, batch):
    # the server would send fewer (or more) replies than expected: another caller would read them
    batch = [tuple(f"{prefix}{a}" if a == "x" else a for a in c) for c in batch]
    with pytest.raises(ValueError, match="CLIENT REPLY"):
        client.execute_many(batch, key=f"{prefix}x")
    with pytest.raises(ValueError, match="CLIENT REPLY"):  # a SKIP inside MULTI is answered QUEUED
        client.execute_many([("CLIENT", "REPLY", "SKIP"), ("SET", f"{prefix}x", "1")], key=f"{prefix}x",
                            transaction=True)
    with pytest.raises(ValueError, match="CLIENT REPLY"):
        client.execute("client", "reply", "skip")
    assert raw.get(f"{prefix}x") is None
    assert client.execute("PING") == b"PONG"


def test_a_pipelined_reply_skip_reads_only_the_replies_sent(client, prefix):
    replies = client.execute_many([("CLIENT", "REPLY", "SKIP"), ("SET", f"{prefix}x", "1"), ("GET", f"{prefix}x")],
                                  key=f"{prefix}x")
    assert replies == [None, None, b"1"]
    assert client.execute("PING") == b"PONG"  # the connection is still in step


@pytest.mark.timeout(30)
def test_a_refused_reply_skip_does_not_leave_the_connection_out_of_step(client, raw, redis_url, prefix):
    user, password = f"ns{uuid.uuid4().hex[:6]}", "pw"
    raw.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all", "-client")
    try:
        hc = hotsync.HotClient.from_url(redis_url, username=user, password=password, metrics=False)
        assert hc.reply_skip_works() is False
        raw.set(f"{prefix}k1", "v1")
        hc.execute_many([("CLIENT", "REPLY", "SKIP"), ("SET", f"{prefix}k2", "2"), ("GET", f"{prefix}k2")],
                        key=f"{prefix}k2")  # refused: the server answers all three
        for _ in range(5):
            assert hc.command("GET", f"{prefix}k1") == b"v1"
        hc.close()
    finally:
        raw.execute_command("ACL", "DELUSER", user)


@pytest.mark.timeout(30)
def test_a_contended_semaphore_acquire_works_for_a_user_the_client_command_is_denied_to(client, raw, redis_url,
                                                                                       prefix):
    # ACLs without CLIENT (and servers with CLIENT renamed) are common on managed Redis:
    # a waiting acquire once sent CLIENT REPLY SKIP, was refused, and left the
    # connection out of step (the next caller read the BLMOVE's reply)
    user, password = f"nc{uuid.uuid4().hex[:6]}", "pw"
    raw.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all", "-client")
    try:
        hc = hotsync.HotClient.from_url(redis_url, username=user, password=password, metrics=False,
                                        key_prefix=prefix)
        holder = hotsync.Semaphore(1, "noclient", client)
        assert holder.acquire()
        sem = hotsync.Semaphore(1, "noclient", hc)
        assert sem.acquire(timeout=0.3) is False
        raw.set(f"{prefix}k1", "v1")
        assert hc.command("GET", f"{prefix}k1") == b"v1"  # the connection is in step
        threading.Timer(0.2, holder.release).start()
        assert sem.acquire(timeout=5) is True
        sem.release()
        assert hc.command("GET", f"{prefix}k1") == b"v1"
        hc.close()
    finally:
        raw.execute_command("ACL", "DELUSER", user)


@pytest.fixture
def two_servers():
    a, b = RedisServer().start(), RedisServer().start()
    yield a, b
    a.stop()
    b.stop()


@pytest.mark.timeout(60)
def test_a_write_refused_by_a_demoted_master_is_retried_on_a_new_connection(two_servers):
    # a failover behind a stable address (virtual IP, DNS, a Service): the old master
    # stays up as a replica; retrying on the same connection only asks it again
    a, b = two_servers
    ra, rb = redis.Redis.from_url(a.url), redis.Redis.from_url(b.url)
    proxy = FaultProxy(a.port)
    try:
        c = hotsync.HotClient.from_url(proxy.url, metrics=False, retry=hotsync.RetryPolicy(budget=5))
        c.command("SET", "x", "before")
        ra.execute_command("REPLICAOF", "127.0.0.1", b.port)  # demoted
        proxy.target = ("127.0.0.1", b.port)  # the address now leads to the new master
        start = time.monotonic()
        assert c.command("SET", "x", "after") in (b"OK", True)
        assert time.monotonic() - start < 3.0
        assert rb.get("x") == b"after"
        c.close()
    finally:
        ra.execute_command("REPLICAOF", "NO", "ONE")
        proxy.close()
        ra.close()
        rb.close()


@pytest.mark.timeout(60)
def test_a_batch_refused_by_a_read_only_server_is_retried_within_the_budget(two_servers):
    a, b = two_servers
    ra = redis.Redis.from_url(a.url)
    try:
        c = hotsync.HotClient.from_url(a.url, metrics=False, retry=hotsync.RetryPolicy(budget=8))
        q = hotsync.Queue(key="q", client=c)
        q.put("item")
        ra.execute_command("REPLICAOF", "127.0.0.1", b.port)  # read-only for a while
        time.sleep(0.3)
        timer = threading.Timer(1.0, lambda: redis.Redis.from_url(a.url).execute_command("REPLICAOF", "NO", "ONE"))
        timer.start()
        try:
            replies = c.perform(Batch((Cmd(("SET", "a", "1")), Cmd(("SET", "b", "2")))))
        finally:
            timer.join()
        assert replies == [b"OK", b"OK"] or replies == [True, True]
        q.put("item")  # again: the replica's sync emptied the data set
        ra.execute_command("REPLICAOF", "127.0.0.1", b.port)
        time.sleep(0.3)
        timer = threading.Timer(1.0, lambda: redis.Redis.from_url(a.url).execute_command("REPLICAOF", "NO", "ONE"))
        timer.start()
        try:
            try:  # no ReadOnlyError: refused, retried, then served (or emptied by the replica's sync)
                got = q.get(timeout=3)
            except hotsync.Empty:
                got = None
        finally:
            timer.join()
        assert got in ("item", None)
        c.close()
    finally:
        ra.execute_command("REPLICAOF", "NO", "ONE")
        ra.close()
