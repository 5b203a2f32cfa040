"""Helpers for tests that need several OS processes.

Workers are started with the ``spawn`` method: a fresh interpreter per
process, no inherited threads or connections.  Worker functions live in
``tests/_workers.py`` so that spawn can import them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable

SPAWN = multiprocessing.get_context("spawn")


def start(target: Callable, *args, **kwargs) -> multiprocessing.Process:
    p = SPAWN.Process(target=target, args=args, kwargs=kwargs, daemon=True)
    p.start()
    return p


def join_all(procs, timeout: float) -> None:
    """Wait for every process; fail (after killing them) if any is late or failed."""
    end = time.monotonic() + timeout
    for p in procs:
        p.join(max(end - time.monotonic(), 0.01))
    late = [p for p in procs if p.is_alive()]
    for p in late:
        os.kill(p.pid, signal.SIGKILL)
        p.join(5)
    assert not late, f"{len(late)} worker(s) did not finish within {timeout}s"
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    assert not bad, f"worker exit codes: {bad}"


def kill9(p: multiprocessing.Process) -> None:
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


#: short timeouts a waiter gives up after; on a server that ignored them until its
#: next tick (1 s at hz 1), their overshoot would add up to ~2 s, not to milliseconds
SHORT_TIMEOUTS = (0.01, 0.03, 0.06, 0.1)


def overshoot(wait, timeouts=SHORT_TIMEOUTS):
    """Run ``wait(timeout)`` (which must give up) for each timeout; return the
    total time spent past the timeouts, after checking none returned early."""
    total = 0.0
    for timeout in timeouts:
        started = time.monotonic()
        wait(timeout)
        took = time.monotonic() - started
        assert took >= timeout, f"gave up after {took:.3f}s, before its timeout of {timeout}s"
        total += took - timeout
    return total
