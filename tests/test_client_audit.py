"""Audit of the client layer: each test pins a bug found in client.py, _retry.py, codecs.py."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis import exceptions as rx
from redis.cluster import RedisCluster, key_slot

import hotsync
from hotsync._ops import Cmd
from hotsync._scripts import Script
from hotsync.codecs import get_codec

from ._faultproxy import FaultProxy
from . import test_cluster as _test_cluster

cluster = _test_cluster.cluster  # the module-scoped 3-node cluster fixture, shared by name


def test_a_wrong_type_error_inside_a_transaction_names_the_key_of_the_failing_command(client, raw, prefix):
    raw.set(f"{prefix}s", "x")
    with pytest.raises(hotsync.TransactionError) as err:
        with hotsync.transaction(client):
            client.write(Cmd(("SET", f"{prefix}t", "1")))
            client.write(Cmd(("LPUSH", f"{prefix}s", "a")))
    cause = err.value.__cause__
    assert isinstance(cause, hotsync.WrongTypeError)
    assert cause.key == f"{prefix}s" and f"{prefix}t" not in str(cause)


def test_an_exception_raised_inside_a_nested_transaction_block_discards_the_writes_made_in_it(client, raw, prefix):
    with hotsync.transaction(client):
        client.write(Cmd(("SET", f"{prefix}kept", "1")))
        try:
            with hotsync.transaction(client):
                client.write(Cmd(("SET", f"{prefix}discarded", "1")))
                raise KeyError("inner failure, handled by the caller")
        except KeyError:
            pass
    assert raw.get(f"{prefix}kept") == b"1"
    assert raw.get(f"{prefix}discarded") is None


@pytest.mark.parametrize("value", [{1: "a"}, {1: "a", "1": "b"}, {True: 1}, {None: 1}, [{"ok": {2.5: 0}}]])
def test_the_json_codec_refuses_dict_keys_that_are_not_str_instead_of_silently_changing_them(value):
    with pytest.raises(TypeError, match="cannot encode"):
        get_codec("json").dumps(value)


@pytest.mark.timeout(30)
def test_blocking_waits_longer_than_redis_pys_default_socket_timeout_work_on_a_wrapped_from_url_client(
    redis_url, prefix
):
    # redis.Redis.from_url() leaves socket_timeout out of the pool's kwargs: its connections
    # use redis-py's default of 5 s, which must not cut a 6 s server-side wait short
    c = hotsync.HotClient(client=redis.Redis.from_url(redis_url), metrics=False, retry=hotsync.RetryPolicy(budget=0))
    start = time.monotonic()
    assert c.command("BLPOP", f"{prefix}never", 6, block=6) is None
    assert time.monotonic() - start >= 5.9
    c.close()


def _on_cluster(cluster, key):
    """(RedisCluster, HotClient on it, a plain client per node, key's slot, its owner's client)."""
    rc = RedisCluster(host="127.0.0.1", port=cluster[0].port)
    c = hotsync.HotClient(client=rc, metrics=False, retry=hotsync.RetryPolicy(budget=5))
    nodes = [redis.Redis(port=s.port) for s in cluster]
    owner = rc.get_node_from_key(key).port
    return rc, c, nodes, key_slot(key.encode()), next(
        n for n in nodes if n.connection_pool.connection_kwargs["port"] == owner)


@pytest.mark.timeout(90)
def test_a_moved_reply_after_a_slot_moved_to_another_node_is_followed_not_raised(cluster):  # noqa: F811
    key = "audit-moved"
    rc, c, nodes, slot, first = _on_cluster(cluster, key)
    route = ([n for n in nodes if n is not first] + [first]) * 2  # the slot visits every master twice
    current = first
    try:
        for n, dest in enumerate(route):
            _move_empty_slot(slot, current, dest, nodes)  # rc's slot table is now stale
            current = dest
            assert c.command("INCR", key, idempotent=False) == 1, n
            assert dest.get(key) == b"1"
            dest.delete(key)
    finally:
        current.delete(key)
        if current is not first:
            _move_empty_slot(slot, current, first, nodes)
        rc.close()
        for n in nodes:
            n.close()


def _move_empty_slot(slot, source, target, nodes):
    """The documented migration of a slot (empty here), then wait until every node agrees."""
    sid, tid = (n.execute_command("CLUSTER", "MYID").decode() for n in (source, target))
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", sid)
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", tid)
    for n in (target, source, *nodes):
        n.execute_command("CLUSTER", "SETSLOT", slot, "NODE", tid)
    port = target.connection_pool.connection_kwargs["port"]
    deadline = time.monotonic() + 30
    again = time.monotonic() + 1.0
    while True:
        behind = [n for n in nodes if _owner_port(n, slot) != port]
        if not behind:
            return
        assert time.monotonic() < deadline, "the slot move did not converge"
        if time.monotonic() >= again:
            # a node that gossip turned back (an older claim seen after the SETSLOT, on a
            # loaded machine) is told again, as the migration procedure allows
            for n in (target, *behind):
                n.execute_command("CLUSTER", "SETSLOT", slot, "NODE", tid)
            again = time.monotonic() + 1.0
        time.sleep(0.05)


def _owner_port(node, slot):
    for start, end, master, *_ in node.execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return master[1]
    return None


@pytest.mark.timeout(30)
def test_a_blocked_wait_unblocked_by_a_role_change_is_retried_instead_of_raised(private_server):
    c = hotsync.HotClient(port=private_server.port, metrics=False, retry=hotsync.RetryPolicy(budget=5))
    admin = redis.Redis(port=private_server.port)

    def failover() -> None:
        time.sleep(0.3)
        admin.execute_command("REPLICAOF", "127.0.0.1", "1")  # demoted: blocked clients get -UNBLOCKED
        time.sleep(0.3)
        admin.execute_command("REPLICAOF", "NO", "ONE")
        time.sleep(0.2)
        admin.rpush("jobs", "x")

    t = threading.Thread(target=failover)
    t.start()
    try:
        assert c.command("BLPOP", "jobs", 5, block=5) == [b"jobs", b"x"]
    finally:
        t.join(10)
        admin.close()
        c.close()


@pytest.mark.timeout(90)
def test_a_write_refused_by_a_master_demoted_by_sentinel_is_retried_not_reported_as_unknown(tmp_path):
    # redis-py's SentinelManagedConnection turns the READONLY refusal of a demoted master
    # into ConnectionError("The previous master is now a slave"): the write did not run
    import subprocess

    from redis.sentinel import Sentinel

    from hotsync._embedded import RedisServer, find_server_binary, free_port

    master = RedisServer().start()
    replica = RedisServer(args=["--replicaof", "127.0.0.1", str(master.port)]).start()
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor m 127.0.0.1 {master.port} 1\nsentinel down-after-milliseconds m 60000\n")
    sentinel_proc = subprocess.Popen([find_server_binary(), str(conf), "--sentinel"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sentinel = Sentinel([("127.0.0.1", port)], socket_timeout=2)
        deadline = time.monotonic() + 30
        while True:  # the sentinel knows the master and its replica
            try:
                if sentinel.sentinels[0].sentinel_slaves("m"):
                    break
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, "sentinel did not come up"
            time.sleep(0.1)
        c = hotsync.HotClient(client=sentinel.master_for("m"), metrics=False, retry=hotsync.RetryPolicy(budget=10))
        assert c.command("INCR", "n", idempotent=False) == 1  # the client now holds a connection to `master`
        copy = redis.Redis(port=replica.port)
        while copy.get("n") != b"1":
            assert time.monotonic() < deadline, "the replica did not sync"
            time.sleep(0.05)
        copy.close()
        while True:  # until the sentinel sees a replica fit to promote
            try:
                sentinel.sentinels[0].execute_command("SENTINEL", "FAILOVER", "m")
                break
            except redis.ResponseError as exc:
                assert "NOGOODSLAVE" in str(exc) and time.monotonic() < deadline, exc
                time.sleep(0.2)
        old = redis.Redis(port=master.port)
        while old.info("replication")["role"] != "slave" or sentinel.discover_master("m")[1] != replica.port:
            assert time.monotonic() < deadline + 30, "the failover did not happen"
            time.sleep(0.1)
        assert c.command("INCR", "n", idempotent=False) == 2  # on the new master, exactly once
        old.close()
    finally:
        sentinel_proc.terminate()
        sentinel_proc.wait(10)
        replica.stop()
        master.stop()


@pytest.mark.timeout(120)
def test_commands_follow_a_cluster_failover_after_their_master_died():
    # the dead master refuses connections: hotsync must refresh the slot table
    # (as RedisCluster does) instead of retrying the dead address until its budget ends
    from hotsync._embedded import RedisServer

    from .test_cluster import _port_with_free_bus_port

    servers = []
    try:
        for _ in range(4):
            servers.append(RedisServer(port=_port_with_free_bus_port(), args=[
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "1000"]).start())
        nodes = [redis.Redis(port=s.port) for s in servers]
        per = 16384 // 3
        for i, node in enumerate(nodes[:3]):
            node.execute_command("CLUSTER", "ADDSLOTS", *range(i * per, 16384 if i == 2 else (i + 1) * per))
        for node in nodes[1:]:
            node.execute_command("CLUSTER", "MEET", "127.0.0.1", servers[0].port)
        deadline = time.monotonic() + 60
        while not all(len(n.cluster("nodes")) == 4 for n in nodes):
            assert time.monotonic() < deadline, "cluster did not converge"
            time.sleep(0.05)
        doomed = nodes[0]
        nodes[3].execute_command("CLUSTER", "REPLICATE", doomed.execute_command("CLUSTER", "MYID").decode())
        while not all(n.cluster("info")["cluster_state"] == "ok" for n in nodes):
            assert time.monotonic() < deadline, "cluster did not converge"
            time.sleep(0.05)
        key = next(f"k{i}" for i in range(1000) if key_slot(f"k{i}".encode()) < per)  # on the doomed master
        rc = RedisCluster(host="127.0.0.1", port=servers[1].port)
        c = hotsync.HotClient(client=rc, metrics=False, retry=hotsync.RetryPolicy(budget=30))
        assert c.command("INCR", key, idempotent=False) == 1
        while _offset(nodes[3]) != _offset(doomed):  # the INCR reached the replica before the crash
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)
        servers[0].kill()
        assert c.command("INCR", key, idempotent=False) == 2  # on the promoted replica
        rc.close()
    finally:
        for s in servers:
            s.stop()


def _offset(node):
    return node.info("replication").get("master_repl_offset")


@pytest.mark.parametrize(("budget", "initial", "maximum"), [(0.35, 0.1, 10.0), (0.05, 0.2, 1.0)])
def test_no_retry_is_attempted_after_the_retry_budget_has_run_out(budget, initial, maximum):
    calls = []

    def fn():
        calls.append(time.monotonic())
        err = rx.ConnectionError("refused")
        err.hotsync_sent = False
        raise err

    with pytest.raises(rx.ConnectionError):
        hotsync.RetryPolicy(budget=budget, initial=initial, maximum=maximum).call(fn, idempotent=True)
    assert len(calls) >= 2
    assert calls[-1] - calls[0] <= budget + 0.03


def test_a_script_error_carries_the_key_it_ran_on(client, prefix):
    boom = Script("audit_boom", b"return redis.call('INCR', KEYS[1], 'too', 'many')")
    with pytest.raises(hotsync.ScriptReplyError) as err:
        client.run_script(boom, [f"{prefix}k"], [], idempotent=True)
    assert err.value.key == f"{prefix}k"


@pytest.mark.timeout(30)
def test_an_unknown_outcome_of_a_native_command_names_its_key(redis_url, prefix):
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultProxy(port)
    try:
        c = hotsync.HotClient.from_url(proxy.url, socket_timeout=0.3, metrics=False)
        assert c.ping()
        proxy.set("drop_replies")
        with pytest.raises(hotsync.OutcomeUnknownError) as err:
            c.command("INCR", f"{prefix}n", idempotent=False)
        assert err.value.key == f"{prefix}n" and f"{prefix}n" in str(err.value)
        c.close()
    finally:
        proxy.close()


@pytest.mark.timeout(30)
def test_a_child_forked_while_another_thread_holds_the_default_client_lock_can_still_configure(redis_url):
    import os

    from hotsync import client as client_mod

    holding, done = threading.Event(), threading.Event()

    def setting_up() -> None:  # another thread in the middle of configure() / default_client()
        with client_mod._default_lock:
            holding.set()
            done.wait(10)

    t = threading.Thread(target=setting_up)
    t.start()
    assert holding.wait(5)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        watchdog = threading.Timer(5, os._exit, (3,))  # a deadlock ends the child with status 3
        watchdog.daemon = True
        watchdog.start()
        hotsync.configure(redis_url, metrics=False)
        ok = hotsync.default_client().ping()
        os._exit(0 if ok else 1)
    done.set()
    t.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.timeout(60)
def test_an_ask_redirect_during_a_slot_migration_is_followed_with_asking(cluster):  # noqa: F811
    key = "audit-ask"
    rc, c, nodes, slot, source = _on_cluster(cluster, key)
    target = next(n for n in nodes if n is not source)
    sid, tid = (n.execute_command("CLUSTER", "MYID").decode() for n in (source, target))
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", sid)
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", tid)
    try:  # the key is not on the source: it answers -ASK <target>
        assert c.command("INCR", key, idempotent=False) == 1
        pipe = target.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.get(key)
        assert pipe.execute()[1] == b"1"
    finally:
        pipe = target.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.delete(key)
        pipe.execute()
        for n in (source, target):
            n.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
        rc.close()
        for n in nodes:
            n.close()
