"""A reserving process that exits normally leaves no consumer entry behind.

An idle consumer leaves ``{K}:consumers`` at its next heartbeat; a process that
exited before that heartbeat used to leave its entry for good when no other
consumer of the queue ran to reap it.  The exit hook takes idle consumers out,
keeps the entry of one still holding messages (they are redelivered after its
lease, as after a crash), and never holds the exit longer than its budget.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import hotsync
from hotsync._queue_reliable import _EXIT_BUDGET

KINDS = [hotsync.Queue, hotsync.LifoQueue, hotsync.PriorityQueue, hotsync.SetQueue, hotsync.LifoSetQueue]

_CHILD = """
import sys, hotsync
url, prefix, kind, mode = sys.argv[1:5]
client = hotsync.HotClient.from_url(url, key_prefix=prefix)
q = getattr(hotsync, kind)(key="exit", client=client, lease=1.0)
q.put((1, "job") if kind == "PriorityQueue" else "job")
msg = q.reserve(timeout=5)
if mode in ("ack", "wait"):
    msg.ack()
print("ready", flush=True)
if mode == "wait":
    sys.stdin.readline()
"""


def _child(url: str, prefix: str, kind: str, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _CHILD, url, prefix, kind, mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cls", KINDS, ids=lambda c: c.__name__)
def test_an_idle_consumer_that_exits_normally_leaves_no_entry(client, raw, redis_url, prefix, cls):
    q = cls(key="exit", client=client)
    child = _child(redis_url, prefix, cls.__name__, "ack")
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0 and "ready" in out
    assert raw.exists(q._consumers_key) == 0, raw.zrange(q._consumers_key, 0, -1, withscores=True)
    assert not [k for k in raw.keys(f"*{prefix}exit*") if b"inflight" in k]
    assert q.qsize() == 0 and q.statistics().in_flight == 0


@pytest.mark.timeout(60)
def test_a_consumer_holding_a_message_at_exit_keeps_its_entry_and_the_message_comes_back(client, raw, redis_url,
                                                                                          prefix):
    q = hotsync.Queue(key="exit", client=client, lease=1.0)
    child = _child(redis_url, prefix, "Queue", "hold")
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0 and "ready" in out
    # the message was in flight when the process ended: its entry stays, so a live
    # consumer redelivers it once the lease is over (as after a crash)
    assert raw.zcard(q._consumers_key) == 1
    deadline = time.monotonic() + 10
    while q.reap() == 0:
        assert time.monotonic() < deadline, "the held message was never redelivered"
        time.sleep(0.2)
    msg = q.reserve(timeout=5)
    assert msg.value == "job" and msg.attempts == 2
    msg.ack()


@pytest.mark.timeout(60)
def test_the_exit_hook_does_not_wait_out_a_stalled_server(private_server, prefix):
    url = private_server.url
    child = _child(url, prefix, "Queue", "wait")
    try:
        assert child.stdout.readline().strip() == "ready"
        os.kill(private_server.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            child.stdin.write("go\n")
            child.stdin.flush()
            child.wait(timeout=30)
            took = time.monotonic() - start
        finally:
            os.kill(private_server.pid, signal.SIGCONT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    # the exit budget (2 s), not the client's retry budget (10 s) nor its socket timeout
    assert took < _EXIT_BUDGET + 3.0, took
