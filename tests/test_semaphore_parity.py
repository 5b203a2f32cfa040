"""Semaphore and BoundedSemaphore against threading's, side by side: same results, same errors."""

from __future__ import annotations

import threading
import time

import pytest

import hotsync

from ._parity import in_another_thread, same





KINDS = ["Semaphore", "BoundedSemaphore"]


def pair(kind, client, value, key="p"):
    return getattr(threading, kind)(value), getattr(hotsync, kind)(value, key, client, lease=5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [-1, -5, None, "3"])
def test_bad_initial_values_raise_what_threading_raises(client, kind, value):
    same(lambda: getattr(threading, kind)(value), lambda: getattr(hotsync, kind)(value, "bad", client))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((False, 1), {}), ((False, 0), {}), ((), {"blocking": False, "timeout": -1}), ((0, 5), {})],
)
def test_non_blocking_acquire_with_a_timeout_raises_what_threading_raises(client, kind, args, kwargs):
    std, hot = pair(kind, client, 0)
    result = same(lambda: std.acquire(*args, **kwargs), lambda: hot.acquire(*args, **kwargs))
    assert result == (ValueError, "can't specify timeout for non-blocking acquire")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [0, -1])
def test_release_of_less_than_one_permit_raises_what_threading_raises(client, kind, n):
    std, hot = pair(kind, client, 1)
    assert same(lambda: std.release(n), lambda: hot.release(n)) == (ValueError, "n must be one or more")


@pytest.mark.parametrize("kind", KINDS)
def test_a_zero_semaphore_refuses_at_once_and_after_a_timeout(client, kind):
    std, hot = pair(kind, client, 0)
    for call in (
        lambda s: s.acquire(False),
        lambda s: s.acquire(blocking=False),
        lambda s: s.acquire(timeout=0.05),
        lambda s: s.acquire(True, 0),
        lambda s: s.acquire(timeout=-1),
        lambda s: s.acquire(timeout=-0.5),
    ):
        assert same(lambda: call(std), lambda: call(hot)) == ("ok", False)


@pytest.mark.parametrize("kind", KINDS)
def test_a_negative_timeout_still_takes_a_free_permit(client, kind):
    std, hot = pair(kind, client, 1)
    assert same(lambda: std.acquire(timeout=-1), lambda: hot.acquire(timeout=-1)) == ("ok", True)


def test_release_without_acquire_adds_permits_as_in_threading(client):
    std, hot = pair("Semaphore", client, 2)
    for _ in range(2):
        same(std.release, hot.release)
    results = [same(lambda: std.acquire(False), lambda: hot.acquire(False)) for _ in range(5)]
    assert results == [("ok", True)] * 4 + [("ok", False)]


def test_release_n_adds_n_permits_as_in_threading(client):
    std, hot = pair("Semaphore", client, 0)
    same(lambda: std.release(3), lambda: hot.release(3))
    results = [same(lambda: std.acquire(timeout=0.01), lambda: hot.acquire(timeout=0.01)) for _ in range(4)]
    assert results == [("ok", True)] * 3 + [("ok", False)]


def test_semaphore_sequence_matches_threading(client):
    std, hot = pair("Semaphore", client, 2)
    steps = [
        lambda s: s.acquire(),
        lambda s: s.acquire(True),
        lambda s: s.acquire(False),
        lambda s: s.acquire(timeout=0.05),
        lambda s: s.release(),
        lambda s: s.acquire(blocking=False),
        lambda s: s.release(2),
        lambda s: s.acquire(False),
        lambda s: s.acquire(False),
        lambda s: s.acquire(False),
        lambda s: s.release(),
        lambda s: s.release(),
        lambda s: s.release(),
        lambda s: s.acquire(timeout=1),
        lambda s: s.release(),
    ]
    for step in steps:
        same(lambda: step(std), lambda: step(hot))


def test_bounded_semaphore_sequence_matches_threading(client):
    std, hot = pair("BoundedSemaphore", client, 2)
    steps = [
        lambda s: s.release(),
        lambda s: s.acquire(),
        lambda s: s.release(2),
        lambda s: s.release(),
        lambda s: s.release(),
        lambda s: s.acquire(False),
        lambda s: s.acquire(False),
        lambda s: s.acquire(False),
        lambda s: s.release(3),
        lambda s: s.release(2),
        lambda s: s.acquire(timeout=0.01),
        lambda s: s.release(),
    ]
    results = [same(lambda: step(std), lambda: step(hot)) for step in steps]
    assert results[0] == (ValueError, "Semaphore released too many times")


def test_bounded_over_release_raises_semaphore_over_release_error_and_changes_nothing(client, raw, prefix):
    hot = hotsync.BoundedSemaphore(1, "b", client)
    assert hot.acquire()
    with pytest.raises(hotsync.SemaphoreOverReleaseError, match="^Semaphore released too many times$") as err:
        hot.release(2)
    assert isinstance(err.value, ValueError)
    assert hot.held == 1 and raw.llen(f"{prefix}b") == 0  # nothing was released
    hot.release()
    assert raw.hget(f"{{{prefix}b}}:meta", "capacity") == b"1"


@pytest.mark.parametrize("kind", KINDS)
def test_another_thread_waits_for_a_permit_as_in_threading(client, kind):
    std, hot = pair(kind, client, 1)
    std.acquire()
    hot.acquire()
    std_got, hot_got = in_another_thread(lambda: std.acquire(timeout=0.05), lambda: hot.acquire(timeout=0.05))
    assert std_got == hot_got == ("ok", False)


@pytest.mark.parametrize("kind", KINDS)
def test_a_permit_may_be_released_by_another_thread_as_in_threading(client, kind):
    std, hot = pair(kind, client, 1)
    std.acquire()
    hot.acquire()
    std_got, hot_got = in_another_thread(std.release, hot.release)
    assert std_got == hot_got == ("ok", None)
    assert same(lambda: std.acquire(False), lambda: hot.acquire(False)) == ("ok", True)


@pytest.mark.parametrize("kind", KINDS)
def test_release_of_n_wakes_n_blocked_threads_as_in_threading(client, kind):
    std, hot = pair(kind, client, 3)
    for s in (std, hot):
        for _ in range(3):
            s.acquire()
    woke = {"std": [], "hot": []}

    def wait(name, s):
        woke[name].append(s.acquire(timeout=10))

    threads = [threading.Thread(target=wait, args=(name, s)) for name, s in (("std", std), ("hot", hot)) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # let them block
    std.release(2)
    hot.release(2)
    time.sleep(1.0)
    assert sorted(woke["std"]) == sorted(woke["hot"]) == [True, True]
    std.release()
    hot.release()
    for t in threads:
        t.join(10)
    assert woke["std"] == woke["hot"] == [True] * 3


@pytest.mark.parametrize("kind", KINDS)
def test_context_manager_acquires_and_releases(client, kind):
    std, hot = pair(kind, client, 1)
    with std, hot as bound:
        assert bound is hot and hot.held == 1
        assert same(lambda: std.acquire(False), lambda: hot.acquire(False)) == ("ok", False)
    assert hot.held == 0
    assert same(lambda: std.acquire(False), lambda: hot.acquire(False)) == ("ok", True)


@pytest.mark.parametrize("kind", KINDS)
def test_a_bool_timeout_is_the_number_it_stands_for(client, kind):
    std, hot = pair(kind, client, 1)
    assert same(lambda: std.acquire(timeout=True), lambda: hot.acquire(timeout=True)) == ("ok", True)
    assert same(lambda: std.acquire(timeout=False), lambda: hot.acquire(timeout=False)) == ("ok", False)
