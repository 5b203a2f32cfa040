"""RateLimiter in one process: arguments, decisions, reservations, settings, keys, metrics, round trips."""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import time

import pytest
from redis.connection import AbstractConnection

import hotsync
from hotsync._keys import aux
from hotsync._ops import Eval
from hotsync.ratelimit import _ACQUIRE


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((0,), {}, ValueError, "rate must be a positive"),
        ((-5,), {}, ValueError, "rate must be a positive"),
        ((float("inf"),), {}, ValueError, "rate must be a positive"),
        ((float("nan"),), {}, ValueError, "rate must be a positive"),
        (("10",), {}, TypeError, "rate must be a number"),
        ((10, 0), {}, ValueError, "per must be a positive"),
        ((10, -1.0), {}, ValueError, "per must be a positive"),
        ((10,), {"burst": 0}, ValueError, "burst must be at least 1"),
        ((10,), {"burst": 1.5}, TypeError, "burst must be an int"),
        ((10**7,), {}, ValueError, "at most 1,000,000 admissions per second"),
    ],
)
def test_invalid_settings_raise_clear_errors_before_any_io(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        hotsync.RateLimiter(*args, **kwargs, client=object())  # never reaches the client


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda rl: rl.acquire(cost=0), ValueError, "cost must be at least 1"),
        (lambda rl: rl.acquire(cost=4), ValueError, "cost 4 exceeds burst 3"),
        (lambda rl: rl.try_acquire(cost=-1), ValueError, "cost must be at least 1"),
        (lambda rl: rl.try_acquire(cost=2.0), TypeError, "cost must be an int"),
        (lambda rl: rl.acquire(timeout=-0.1), ValueError, "'timeout' must be a non-negative number"),
        (lambda rl: rl.acquire(timeout=float("nan")), ValueError, "'timeout' must be a non-negative number"),
        (lambda rl: rl.acquire(False, 1), ValueError, "can't specify timeout for non-blocking acquire"),
        (lambda rl: rl.acquire(timeout="1"), TypeError, "timeout must be a number"),
    ],
)
def test_invalid_calls_raise_clear_errors_and_count_nothing(client, raw, prefix, call, exc, match):
    limiter = hotsync.RateLimiter(1, burst=3, key="bad", client=client)
    with pytest.raises(exc, match=match):
        call(limiter)
    assert not raw.exists(f"{prefix}bad")


def test_burst_admits_at_once_then_refuses_with_the_retry_after(client):
    limiter = hotsync.RateLimiter(10, burst=3, key="b", client=client)
    decisions = [limiter.try_acquire() for _ in range(4)]
    assert [d.admitted for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    refused = decisions[3]
    assert not refused and refused.retry_after == pytest.approx(0.1, abs=0.02)
    with pytest.raises(AttributeError):
        refused.admitted = True  # type: ignore[misc]
    time.sleep(refused.retry_after)
    assert limiter.try_acquire()


def test_cost_takes_several_admissions_at_once(client):
    limiter = hotsync.RateLimiter(10, burst=5, key="cost", client=client)
    assert limiter.try_acquire(cost=4).remaining == 1
    refused = limiter.try_acquire(cost=3)
    assert not refused and refused.retry_after == pytest.approx(0.2, abs=0.03) and refused.remaining == 1
    assert limiter.try_acquire(cost=1)


def test_blocking_acquire_spaces_admissions_by_the_emission_interval(client):
    limiter = hotsync.RateLimiter(20, key="space", client=client)  # one every 50 ms
    stamps = []
    for _ in range(6):
        assert limiter.acquire()
        stamps.append(time.monotonic())
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) >= 0.045  # never early (a sleep of exactly the server-reported wait)
    assert stamps[-1] - stamps[0] == pytest.approx(0.25, abs=0.1)


def test_acquire_with_a_short_timeout_refuses_at_once_and_reserves_nothing(client):
    limiter = hotsync.RateLimiter(2, key="to", client=client)  # one every 0.5 s
    assert limiter.acquire()
    start = time.monotonic()
    assert limiter.acquire(timeout=0.1) is False
    assert time.monotonic() - start < 0.1  # no pointless wait
    assert limiter.try_acquire().retry_after == pytest.approx(0.5, abs=0.1)  # the refusal moved nothing on
    assert limiter.acquire(blocking=False) is False


def test_acquire_with_a_long_enough_timeout_waits_for_its_reserved_slot(client):
    limiter = hotsync.RateLimiter(5, key="slot", client=client)  # one every 0.2 s
    assert limiter.acquire()
    start = time.monotonic()
    assert limiter.acquire(timeout=1)
    assert 0.15 <= time.monotonic() - start < 0.5
    assert not limiter.try_acquire()  # the reserved slot was taken


def test_equivalent_limits_share_a_key_and_different_ones_conflict(client):
    a = hotsync.RateLimiter(100, 1.0, key="same", client=client)
    b = hotsync.RateLimiter(50, 0.5, key="same", client=client)
    assert a.try_acquire() and not b.try_acquire()  # one limit, one budget
    c = hotsync.RateLimiter(100 / 3, 1 / 3, key="same", client=client)  # equal, up to rounding
    assert not c.try_acquire()
    with pytest.raises(hotsync.ConfigConflictError) as err:
        hotsync.RateLimiter(10, key="same", client=client).try_acquire()
    assert isinstance(err.value, ValueError) and err.value.key == "same"
    assert "0.01 s (burst 1)" in str(err.value) and "0.1 s (burst 1)" in str(err.value)
    with pytest.raises(hotsync.ConfigConflictError, match="burst 2"):
        hotsync.RateLimiter(100, key="same", burst=2, client=client).acquire()


def test_an_idle_limiter_leaves_no_key(client, raw, prefix):
    limiter = hotsync.RateLimiter(10, burst=2, key="idle", client=client)
    limiter.try_acquire()
    limiter.try_acquire()
    assert 0 < raw.pttl(f"{prefix}idle") <= 201
    time.sleep(0.25)
    assert not raw.exists(f"{prefix}idle")
    assert limiter.try_acquire().remaining == 1  # a missing key is a full burst


def test_context_manager_and_decorator_wait_for_admission(client):
    limiter = hotsync.RateLimiter(10, key="deco", client=client)
    calls = []

    @limiter
    def work(x):
        """Docstring kept."""
        calls.append((x, time.monotonic()))
        return x * 2

    assert work.__name__ == "work" and work.__doc__ == "Docstring kept."
    assert [work(i) for i in range(3)] == [0, 2, 4]
    with limiter as bound:
        assert bound is limiter
        calls.append((3, time.monotonic()))
    assert calls[-1][1] - calls[0][1] >= 0.3 - 0.01


@pytest.mark.timeout(20)
def test_a_decorated_coroutine_function_stays_one_and_waits_without_blocking_the_loop(client):
    limiter = hotsync.RateLimiter(5, key="deco-async", client=client)  # one admission every 0.2 s

    @limiter
    async def work(x):
        return x * 2

    assert inspect.iscoroutinefunction(work) and work.__name__ == "work"

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.create_task(ticker())
        start = time.monotonic()
        results = [await work(i) for i in range(3)]
        elapsed = time.monotonic() - start
        tick.cancel()
        return results, elapsed, ticks

    results, elapsed, ticks = asyncio.run(main())
    assert results == [0, 2, 4]
    assert elapsed >= 0.4 - 0.01  # the second and third calls waited for their admission
    assert ticks >= 20  # the loop ran on while they waited (a blocked loop ticks ~0 times)


def test_every_decision_is_one_round_trip(client, monkeypatch):
    limiter = hotsync.RateLimiter(1000, burst=1, key="rtt", client=client)
    limiter.try_acquire()  # load the script once
    writes = []
    original = AbstractConnection.send_packed_command
    me = threading.get_ident()  # not the renewal thread of a lease an earlier test left behind

    def counting(self, *a, **k):
        if threading.get_ident() == me:
            writes.append(1)
        return original(self, *a, **k)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    for _ in range(5):
        limiter.try_acquire()
    for _ in range(5):
        assert limiter.acquire()  # each may sleep, but never asks twice
    assert len(writes) == 10


def test_metrics_count_admitted_and_rejected_decisions_and_the_wait(client, registry):
    limiter = hotsync.RateLimiter(10, key="m", client=client)
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    assert not limiter.acquire(blocking=False)
    assert limiter.acquire()

    def value(name, labels):
        return registry.get_sample_value(name, labels) or 0.0

    assert value("hotsync_ratelimit_decisions_total", {"name": "m", "decision": "admitted"}) == 2
    assert value("hotsync_ratelimit_decisions_total", {"name": "m", "decision": "rejected"}) == 2
    waited = {"kind": "ratelimiter", "name": "m", "outcome": "acquired"}
    assert value("hotsync_acquire_wait_seconds_count", waited) == 1
    assert value("hotsync_acquire_wait_seconds_sum", waited) >= 0.05


def test_repr_does_no_io(client):
    limiter = hotsync.RateLimiter(50, 2, burst=5, key="r", client=client)
    client.close()
    assert repr(limiter) == "<hotsync.RateLimiter key='r' rate=50/2s burst=5>"


def _decide_as(client, limiter, req, *, caller="a", window_ms=60_000):
    """One raw ratelimit_acquire call by ``caller`` with request id ``req`` (what a retry
    after a lost reply sends again)."""
    keys = (limiter._main, aux(limiter._main, f"caller:{caller}"))
    args = (limiter._iv_arg, limiter._burst_arg, 1, 0, req, window_ms)
    return [int(x) for x in client.perform(Eval(_ACQUIRE, keys, args))]


def test_a_retried_decision_is_counted_once_even_after_another_caller_s_decision(client):
    limiter = hotsync.RateLimiter(1, per=60, burst=3, key="retry", client=client)
    assert _decide_as(client, limiter, "1", caller="a") == [1, 0, 2]
    assert _decide_as(client, limiter, "1", caller="b") == [1, 0, 1]  # another caller decides in between
    assert _decide_as(client, limiter, "1", caller="a")[0] == 1  # a's retry: the original answer, admitted ...
    assert _decide_as(client, limiter, "1", caller="c") == [1, 0, 0]  # ... and not counted twice
    assert not limiter.try_acquire()
    assert _decide_as(client, limiter, "2", caller="a")[0] == 0  # a's next request is a new decision


def test_each_calling_thread_has_its_own_retry_guard_that_expires(client, raw, prefix):
    limiter = hotsync.RateLimiter(1, per=60, burst=50, key="guard", client=client)
    assert limiter.try_acquire()
    other = threading.Thread(target=limiter.try_acquire)
    other.start()
    other.join(10)
    guards = raw.keys(f"{{{prefix}guard}}:caller:*")
    assert len(guards) == 2, "one guard per calling thread"
    window = math.ceil((client.retry.budget + 30) * 1000)
    assert all(window - 5_000 < raw.pttl(g) <= window for g in guards)  # gone once the window is over
    _decide_as(client, limiter, "9", caller="short", window_ms=50)
    time.sleep(0.2)
    assert _decide_as(client, limiter, "9", caller="short") == [1, 0, 46]  # forgotten: decided afresh


@pytest.mark.parametrize("kind", ["list", "hash", "zset", "string", "long string"])
def test_a_limiter_on_a_key_of_another_type_raises_wrong_type_naming_it_and_writes_no_guard(client, raw, prefix, kind):
    main = f"{prefix}taken"
    {"list": lambda: raw.rpush(main, "x"), "hash": lambda: raw.hset(main, "f", "v"),
     "zset": lambda: raw.zadd(main, {"x": 1}), "string": lambda: raw.set(main, "a user's text"),
     "long string": lambda: raw.set(main, "a user's note that is long enough to unpack as four doubles")}[kind]()
    limiter = hotsync.RateLimiter(5, key="taken", client=client)  # (the constructor only registers the name)
    before = {k: raw.dump(k) for k in raw.scan_iter(match=f"*{prefix}*")}
    for decide in (limiter.try_acquire, lambda: limiter.acquire(timeout=0.1)):
        with pytest.raises(hotsync.WrongTypeError) as err:
            decide()
        assert err.value.key == main
        assert {k: raw.dump(k) for k in raw.scan_iter(match=f"*{prefix}*")} == before
