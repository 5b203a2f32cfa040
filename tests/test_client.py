from __future__ import annotations

import threading
import time

import pytest
import redis

import hotsync
from hotsync import client as client_mod
from hotsync._ops import Cmd, Eval
from hotsync._scripts import script


def test_from_url_and_host_port_clients_talk_to_the_same_server(redis_url):
    a = hotsync.HotClient.from_url(redis_url)
    host, port = redis_url.split("//")[1].split("/")[0].split(":")
    b = hotsync.HotClient(host, int(port))
    assert a.ping() and b.ping()
    assert repr(a).startswith("<HotClient redis")


def test_wrapping_a_default_redis_py_client_with_decoding_still_works(redis_url, prefix):
    r = redis.Redis.from_url(redis_url, decode_responses=True)  # redis-py defaults: 10 retries
    c = hotsync.HotClient(client=r, key_prefix=prefix, metrics=False)
    lock = hotsync.Lock("wrapped", c)
    assert lock.acquire(timeout=1)
    assert r.hexists(f"{prefix}wrapped", lock._hold.owner)
    lock.release()


def test_blocking_waits_longer_than_the_socket_timeout_work(redis_url, prefix):
    c = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, socket_timeout=0.3, metrics=False)
    holder = hotsync.Lock("slow", c)
    holder.acquire()
    start = time.monotonic()
    assert hotsync.Lock("slow", c).acquire(timeout=1.2) is False
    assert 1.1 < time.monotonic() - start < 3
    holder.release()


def test_client_and_connection_arguments_are_exclusive(redis_url):
    with pytest.raises(TypeError):
        hotsync.HotClient("localhost", client=redis.Redis())
    with pytest.raises(ValueError, match="decode_responses"):
        hotsync.HotClient(decode_responses=True)


def test_configure_takes_effect_for_objects_created_later_in_any_thread(redis_url, monkeypatch):
    monkeypatch.setattr(client_mod, "_default_client", None)
    monkeypatch.setattr(client_mod, "_default_config", (None, {}))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert hotsync.default_client().redis.connection_pool.connection_kwargs["port"] == 1
    hotsync.configure(redis_url, metrics=False)
    seen = []
    t = threading.Thread(target=lambda: seen.append(hotsync.Lock("cfg").acquire(blocking=False)))
    t.start()
    t.join(10)
    assert seen == [True]
    hotsync.default_client().redis.delete("cfg")
    monkeypatch.setattr(client_mod, "_default_client", None)


def test_default_client_is_created_lazily_from_the_environment(monkeypatch, redis_url):
    monkeypatch.setattr(client_mod, "_default_client", None)
    monkeypatch.setattr(client_mod, "_default_config", (None, {}))
    monkeypatch.setenv("HOTSYNC_REDIS_URL", redis_url)
    assert hotsync.default_client().ping()
    monkeypatch.setattr(client_mod, "_default_client", None)


def test_transaction_applies_writes_and_scripts_together_on_exit(client, raw, prefix):
    other = hotsync.HotClient.from_url(_url(raw), metrics=False)
    key = f"{prefix}tx"
    with hotsync.transaction(client) as tx:
        assert client.write(Cmd(("RPUSH", key, "a"))) is None
        assert client.write(Eval(script("lock_renew"), (key + "h",), ("nobody", 1000))) is None
        assert other.redis.llen(key) == 0  # not applied yet
        with pytest.raises(hotsync.TransactionError):
            client.read(Cmd(("LLEN", key)))
        assert other.read(Cmd(("LLEN", key))) == 0  # other clients are not affected
    assert tx.results == [1, 0]
    assert raw.lrange(key, 0, -1) == [b"a"]


def test_transaction_discards_writes_when_the_block_raises(client, raw, prefix):
    key = f"{prefix}tx2"
    with pytest.raises(KeyError):
        with hotsync.transaction(client):
            client.write(Cmd(("SET", key, "1")))
            raise KeyError("boom")
    assert raw.get(key) is None


def test_errors_inside_exec_are_raised_not_returned(client, raw, prefix):
    raw.set(f"{prefix}s", "x")
    with pytest.raises(hotsync.TransactionError, match="1 of 2"):
        with hotsync.transaction(client):
            client.write(Cmd(("LPUSH", f"{prefix}s", "a")))
            client.write(Cmd(("SET", f"{prefix}t", "1")))


def test_nested_transactions_join_the_outer_one(client, raw, prefix):
    with hotsync.transaction(client) as outer:
        client.write(Cmd(("SET", f"{prefix}a", "1")))
        with hotsync.transaction(client) as inner:
            client.write(Cmd(("SET", f"{prefix}b", "2")))
        assert inner is outer
        assert raw.get(f"{prefix}b") is None
    assert raw.mget(f"{prefix}a", f"{prefix}b") == [b"1", b"2"]


def test_wrong_type_errors_name_the_key(client, raw, prefix):
    raw.set(f"{prefix}str", "x")
    with pytest.raises(hotsync.WrongTypeError, match="str"):
        hotsync.Lock("str", client).acquire(blocking=False)


def test_named_objects_are_registered_in_the_index(client, raw, prefix):
    hotsync.Lock("indexed", client).acquire()
    assert raw.hget(f"{prefix}hotsync:index", f"{prefix}indexed") == b"lock"
    hotsync.Lock(client=client).acquire()  # anonymous objects are not listed
    assert raw.hlen(f"{prefix}hotsync:index") == 1


def _url(r):
    kw = r.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"


def test_testcontainers_is_an_optional_way_to_get_a_server():
    testcontainers = pytest.importorskip("testcontainers.redis", reason="testcontainers not installed (optional)")
    docker = pytest.importorskip("docker")
    try:
        docker.from_env().ping()
    except Exception:  # noqa: BLE001
        pytest.skip("no Docker engine on this machine")
    with testcontainers.RedisContainer("redis:7") as container:
        url = f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
        assert hotsync.Lock("tc", hotsync.HotClient.from_url(url)).acquire(timeout=5)


def test_a_command_after_a_server_restart_reconnects_first_instead_of_reporting_an_unknown_outcome():
    # the client keeps idle connections out of redis-py's pool; one whose server went
    # away must be reconnected before sending, so a non-idempotent command is not sent
    # into a dead socket (its outcome would then be unknown)
    from hotsync._embedded import RedisServer

    server = RedisServer().start()
    try:
        c = hotsync.HotClient(port=server.port, metrics=False)
        assert c.command("INCR", "n", idempotent=False) == 1
        server.kill()
        server.start()
        time.sleep(0.2)  # the new server is up; the idle socket still points at the old one
        assert c.command("INCR", "n", idempotent=False) == 1
        c.close()
    finally:
        server.stop()


@pytest.mark.timeout(60)
def test_a_forked_child_does_not_share_its_parents_connection(client, raw, prefix):
    import os

    client.command("SET", f"{prefix}k", b"parent")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        ok = 0
        try:
            for i in range(300):
                client.command("SET", f"{prefix}c{i}", b"child")
                ok += client.command("GET", f"{prefix}c{i}") == b"child"
        finally:
            os._exit(0 if ok == 300 else 1)
    for _ in range(300):
        assert client.command("GET", f"{prefix}k") == b"parent"
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.timeout(30)
def test_a_small_shared_pool_is_not_drained_by_idle_connections(redis_url, prefix):
    # the caller's own client must still get every connection its pool allows
    pool = redis.BlockingConnectionPool.from_url(redis_url, max_connections=2, timeout=2)
    shared = redis.Redis(connection_pool=pool)
    c = hotsync.HotClient(client=shared, metrics=False)
    threads = [threading.Thread(target=lambda: c.command("INCR", f"{prefix}n", idempotent=False)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    taken = [pool.get_connection(), pool.get_connection()]  # raises after 2 s if hotsync kept any
    for conn in taken:
        pool.release(conn)
    assert shared.get(f"{prefix}n") == b"4"
    pool.disconnect()


def test_idle_connections_are_kept_only_out_of_a_large_plain_pool(redis_url, prefix):
    # redis-py 8's default pool (100 connections) gets them; a smaller one you share does not
    c = hotsync.HotClient.from_url(redis_url, metrics=False)
    c.command("GET", f"{prefix}k")
    assert c.redis.connection_pool.max_connections == 100 and c._idle is not None and len(c._idle) == 1
    c.close()
    small = hotsync.HotClient(client=redis.Redis.from_url(redis_url, max_connections=20), metrics=False)
    small.command("GET", f"{prefix}k")
    assert small._idle is None
    small.close()


def test_a_thread_started_inside_a_transaction_writes_at_once(client, raw, prefix):
    lst = hotsync.List(key="tx-thread", client=client)
    seen = []
    with hotsync.transaction(client):
        lst.append("queued")
        t = threading.Thread(target=lambda: (lst.append("now"), seen.append(raw.lrange(f"{prefix}tx-thread", 0, -1))))
        t.start()
        t.join(10)
        assert seen == [[b'"now"']], "the thread's write did not wait for the block"
    assert lst.value == ["now", "queued"]
