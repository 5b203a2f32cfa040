"""The retry policy in isolation: what is retried, for how long (fake sleep, no Redis)."""

from __future__ import annotations

import time

import pytest
from redis import exceptions as rx

import hotsync
from hotsync._retry import is_ambiguous, is_not_applied


def unsent(exc):
    exc.hotsync_sent = False
    return exc


def failing(*errors, result="done"):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return fn, calls


@pytest.mark.parametrize(
    "exc",
    [rx.BusyLoadingError("loading"), rx.ReadOnlyError("READONLY x"), rx.ResponseError("NOREPLICAS x"),
     rx.ResponseError("BUSY Redis is busy"), unsent(rx.ConnectionError("refused")), rx.TryAgainError("TRYAGAIN")],
)
def test_refusals_and_unsent_commands_are_retried_even_when_not_idempotent(exc):
    sleeps = []
    fn, calls = failing(exc)
    policy = hotsync.RetryPolicy(budget=5, sleep=sleeps.append)
    assert policy.call(fn, idempotent=False) == "done"
    assert len(calls) == 2 and sleeps
    assert is_not_applied(exc) and not is_ambiguous(exc)


def test_ambiguous_errors_are_retried_only_for_idempotent_operations():
    fn, calls = failing(rx.TimeoutError("read"), rx.ConnectionError("reset"))
    assert hotsync.RetryPolicy(budget=5, sleep=lambda s: None).call(fn, idempotent=True) == "done"
    assert len(calls) == 3
    fn, calls = failing(rx.TimeoutError("read"))
    with pytest.raises(hotsync.OutcomeUnknownError) as err:
        hotsync.RetryPolicy(budget=5, sleep=lambda s: None).call(fn, idempotent=False, key="k")
    assert len(calls) == 1 and err.value.key == "k"
    assert isinstance(err.value.__cause__, rx.TimeoutError)


@pytest.mark.parametrize("exc", [rx.AuthenticationError("bad"), rx.ResponseError("WRONGTYPE x"), ValueError("x")])
def test_permanent_errors_are_never_retried(exc):
    fn, calls = failing(exc)
    with pytest.raises(type(exc)):
        hotsync.RetryPolicy(budget=5, sleep=lambda s: None).call(fn, idempotent=True)
    assert len(calls) == 1


def test_retrying_stops_at_the_budget_and_reraises_the_clients_error():
    calls = []

    def fn():
        calls.append(time.monotonic())
        raise unsent(rx.ConnectionError("refused"))

    policy = hotsync.RetryPolicy(budget=0.3, initial=0.01, maximum=0.05)
    with pytest.raises(rx.ConnectionError, match="refused"):
        policy.call(fn, idempotent=True)
    assert len(calls) > 3
    assert 0.25 <= calls[-1] - calls[0] < 2


def test_waits_grow_exponentially_with_jitter_and_are_capped():
    sleeps = []
    errors = [unsent(rx.ConnectionError("x")) for _ in range(8)]
    fn, _ = failing(*errors)
    hotsync.RetryPolicy(budget=1000, initial=0.01, maximum=0.2, sleep=sleeps.append).call(fn, idempotent=True)
    assert sleeps[0] == 0.01
    assert all(s <= 0.2 for s in sleeps)
    assert max(sleeps) > 0.05


def test_a_zero_budget_disables_retrying():
    fn, calls = failing(unsent(rx.ConnectionError("x")))
    with pytest.raises(rx.ConnectionError):
        hotsync.RetryPolicy(budget=0).call(fn, idempotent=True)
    assert len(calls) == 1
    with pytest.raises(ValueError):
        hotsync.RetryPolicy(budget=-1)
