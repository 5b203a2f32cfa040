"""Review of the renewal scheduler: a server that stalls must hold up only its own leases.

One scheduler thread renews every lease of the process.  When every lease due in a
round was on one server, that round ran on the scheduler thread itself; if the server
stalled (CLIENT PAUSE here), no other lease was renewed or declared lost until the
round gave up: a lock taken meanwhile on a healthy server ran out there, another
client took it, and the holder still believed it owned it.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis

import hotsync


def _sleep_until(moment: float) -> None:
    time.sleep(max(moment - time.monotonic(), 0))


def _unpause(admin: redis.Redis, ends: float) -> None:
    """End the pause (or outwait it) so that the server can be stopped."""
    try:
        admin.execute_command("CLIENT", "UNPAUSE")
    except redis.RedisError:
        _sleep_until(ends + 0.1)
    admin.close()


@pytest.mark.timeout(30)
def test_a_lock_taken_while_another_server_stalls_a_renewal_stays_held(client, private_server, redis_url, prefix):
    stalled = hotsync.HotClient.from_url(private_server.url, metrics=False)
    rival_client = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=False)
    admin = redis.Redis(port=private_server.port)
    ends = time.monotonic()
    try:
        on_stalled = hotsync.Lock("on-stalled", stalled, lease=3)
        assert on_stalled.acquire()
        start = time.monotonic()
        _sleep_until(start + 0.8)
        admin.execute_command("CLIENT", "PAUSE", 3000, "ALL")  # before its first renewal (at 1.0 s)
        ends = time.monotonic() + 3.0
        _sleep_until(start + 1.3)  # that renewal now waits on the stalled server
        healthy = hotsync.Lock("on-healthy", client, lease=0.5)
        assert healthy.acquire()
        rival = hotsync.Lock("on-healthy", rival_client, lease=0.5)
        assert not rival.acquire(timeout=1.8)  # more than three of its leases
        assert healthy.owned() and not healthy.lost.is_set()
        assert client.redis.exists(healthy._main)
        assert time.monotonic() < ends  # all of this while the other server was stalled
        # the stalled lock's loss is reported by its deadline, not when the pause ends
        assert on_stalled.lost.wait(max(ends - 0.2 - time.monotonic(), 0))
        assert not on_stalled.owned()
        healthy.release()
    finally:
        _unpause(admin, ends)
        rival_client.close()
        stalled.close()


@pytest.mark.timeout(30)
def test_a_lease_due_while_its_own_server_stalls_a_renewal_is_declared_lost_at_its_deadline(private_server):
    stalled = hotsync.HotClient.from_url(private_server.url, metrics=False)
    admin = redis.Redis(port=private_server.port)
    ends = time.monotonic()
    try:
        long = hotsync.Lock("long", stalled, lease=3)
        assert long.acquire()
        start = time.monotonic()
        _sleep_until(start + 0.75)
        short = hotsync.Lock("short", stalled, lease=0.9)  # due at 1.05 s, deadline 1.65 s
        assert short.acquire()
        short_deadline = time.monotonic() + 0.9
        _sleep_until(start + 0.9)
        admin.execute_command("CLIENT", "PAUSE", 3000, "ALL")  # the long one's renewal (1.0 s) stalls
        ends = time.monotonic() + 3.0
        # the short lease cannot be confirmed: it must be reported lost by its own
        # deadline, not after the long lease's stalled renewal has given up (3 s)
        assert short.lost.wait(max(short_deadline + 0.6 - time.monotonic(), 0))
        assert not short.owned()
        assert long.lost.wait(max(ends - 0.2 - time.monotonic(), 0))
    finally:
        _unpause(admin, ends)
        stalled.close()


def _helpers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "hotsync-renewal-group"}


@pytest.mark.timeout(30)
def test_a_stalled_server_holds_at_most_one_renewal_helper_thread(client, private_server):
    stalled = hotsync.HotClient.from_url(private_server.url, metrics=False)
    admin = redis.Redis(port=private_server.port)
    ends = time.monotonic()
    try:
        elsewhere = hotsync.Lock("elsewhere", client, lease=30)  # renewed every 10 s: no helper meanwhile
        assert elsewhere.acquire()
        locks = []
        start = time.monotonic()
        for i in range(4):  # due one after another: 1.0, 1.1, 1.2, 1.3 s
            lock = hotsync.Lock(f"stalled{i}", stalled, lease=3)
            assert lock.acquire()
            locks.append(lock)
            _sleep_until(start + 0.1 * (i + 1))
        _sleep_until(start + 0.8)
        admin.execute_command("CLIENT", "PAUSE", 2500, "ALL")
        ends = time.monotonic() + 2.5
        _sleep_until(start + 1.5)  # every lock on the stalled server came due
        first = _helpers()
        time.sleep(0.5)
        blocked = first & _helpers()  # helpers that wait on the stalled server (others are gone in ms)
        assert len(blocked) == 1
        assert elsewhere.owned()
        elsewhere.release()
    finally:
        _unpause(admin, ends)
        stalled.close()
