"""RateLimiter: "at most N calls per period", across every process sharing a key.

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp)
computed by ``lua/ratelimit_acquire.lua`` on the Redis server's clock: host
clocks never matter.  Every decision is one round trip; a blocking
``acquire()`` reserves the earliest slot in that same round trip and then
sleeps exactly the wait the server reported, once.

Keys (``K`` is the main key):

====================  =======  ==============================================
key                   type     contents / lifetime
====================  =======  ==============================================
``K``                 string   four little-endian doubles (Lua ``struct``
                               ``<dddd``): theoretical arrival time and when
                               the last admitted request may proceed (server
                               µs), emission interval (µs), burst.  TTL =
                               until the arrival time, so an idle limiter
                               leaves no key
``{K}:caller:<id>``   string   retry guard of one calling thread (process
                               token and thread id): ``<request id> <when it
                               may proceed>`` of its last admitted decision;
                               TTL = the retry window
====================  =======  ==============================================

Retry guard: a decision whose reply is lost is retried with the same request
id.  A calling thread has one decision in flight at a time, so remembering its
last admitted request (in its own small key) is enough to recognise the retry,
even when other callers decided in between, and to answer it with the original
decision instead of admitting it twice.  The key lives for the client's retry
budget plus a margin for the lost attempt itself, so an idle caller leaves
nothing behind after that.  Refused decisions change nothing, so they need no
guard.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ._keys import aux
from ._ops import Eval
from ._pickling import rebuild
from ._renewal import process_token
from ._scripts import script
from .client import HotClient, default_client
from .exceptions import ConfigConflictError, ScriptReplyError, WrongTypeError

__all__ = ["RateLimiter", "RateLimitDecision"]

_ACQUIRE = script("ratelimit_acquire")

F = TypeVar("F", bound=Callable[..., Any])

_requests = itertools.count(1)

#: Seconds a request id is remembered beyond the client's retry budget: the lost
#: attempt's own time on the wire and the server, before the first retry.
_GUARD_MARGIN = 30.0


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """The answer to one ``try_acquire()``.  Truthy when admitted.

    Attributes:
        admitted: the request was admitted (and counted).
        retry_after: seconds until a request of the same cost would be admitted
            if nobody else asks first; 0.0 when admitted.
        remaining: requests of cost 1 that would still be admitted right now.
    """

    admitted: bool
    retry_after: float
    remaining: int

    def __bool__(self) -> bool:
        return self.admitted


def _number(name: str, value: Any, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive, finite number of {unit}, not {value!r}")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value!r}")
    return value


class RateLimiter:
    """Admit at most ``rate`` requests per ``per`` seconds, fleet-wide.

    ``RateLimiter(100, key="partner-api")`` on every host lets the whole fleet
    make 100 calls per second to that API, spaced evenly: ``burst`` is the
    most admissions that may happen at the same instant (``burst=1``, the
    default, spaces admissions ``per / rate`` seconds apart; ``burst=10``
    lets an idle limiter admit 10 at once, then refills at ``rate``).

    Model:
        GCRA: the limiter keeps one timestamp, the *theoretical arrival time*
        (TAT) of the next request if requests came exactly at the rate.  A
        request of cost ``c`` is admitted when ``TAT + c * per / rate`` is at
        most ``burst * per / rate`` ahead of now, and then moves the TAT on.
        A blocking ``acquire()`` that would have to wait *reserves* the
        earliest slot in the same atomic step (the TAT moves on as if it were
        admitted) and then sleeps exactly until that slot: one round trip and
        one sleep per call, and callers on all hosts queue up in slot order
        without polling or thundering herds.

    Distributed semantics:
        *Clock.* Only the Redis server's clock is read (``TIME`` inside Lua):
        hosts may disagree about the time.  *Exactness.* Over any window of
        length W, at most ``burst + W * rate / per`` requests are admitted, on
        all hosts together.  A reserved slot that its caller does not use
        (interrupted while sleeping) is lost: the fleet then runs slightly
        *below* the rate, never above.  *Settings.* While the limiter is in
        use (its key exists), a decision by an object with a different limit
        (``per / rate`` or ``burst``) raises
        :class:`~hotsync.ConfigConflictError`; ``RateLimiter(100, 1)`` and
        ``RateLimiter(50, 0.5)`` are the same limit.  *Idle.* The key expires
        when the limiter is back to its full burst (the retry guard's key
        after the retry window).  *Retries.* Every decision carries a request
        id: a decision retried after a lost reply is counted once, even when
        other callers decided in between (see the module's "Retry guard").

    Example::

        limiter = hotsync.RateLimiter(100, per=1.0, key="partner-api")

        @limiter                      # each call waits for its slot
        def call_partner(payload): ...

        with limiter:                 # or around a block
            call_partner(payload)

        decision = limiter.try_acquire()   # or decide yourself
        if not decision:
            return retry_later(decision.retry_after)
    """

    _kind = "ratelimiter"

    def __init__(
        self,
        rate: float,
        per: float = 1.0,
        *,
        burst: int = 1,
        key: str | None = None,
        client: HotClient | None = None,
    ) -> None:
        self.rate = _number("rate", rate, "admissions per period")
        self.per = _number("per", per, "seconds")
        self.burst = _count("burst", burst)
        interval = self.per / self.rate
        if interval < 1e-6:
            raise ValueError(f"rate / per must be at most 1,000,000 admissions per second, not {self.rate / self.per:g}")
        if interval * self.burst > 1e8:
            raise ValueError("burst * per / rate must be under 10**8 seconds")
        self._iv_us = interval * 1e6
        self._iv_arg = repr(self._iv_us)
        self._burst_arg = str(self.burst)
        self._client = client if client is not None else default_client()
        self.key, self._main = self._client.key_for(key, self._kind)
        self._guard_prefix = aux(self._main, "caller:")
        self._local = threading.local()  # .guard: the calling thread's guard key (see _guard)
        self._window_arg = str(math.ceil((self._client.retry.budget + _GUARD_MARGIN) * 1000))
        m = self._client.metrics
        label = m.name(self.key)
        self._m_admitted = m.ratelimit_decisions.labels(label, "admitted")
        self._m_rejected = m.ratelimit_decisions.labels(label, "rejected")
        self._m_wait = {o: m.acquire_wait.labels(self._kind, label, o) for o in ("acquired", "timeout", "busy")}
        if key is not None:
            self._client.register(self._kind, self._main)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as a handle: the same limit on the same key (see :mod:`hotsync._pickling`)."""
        return rebuild, (type(self), (self.rate, self.per), {"burst": self.burst, "key": self.key,
                                                             "client": self._client})

    def _decide(self, cost: int, max_wait_us: int) -> tuple[int, float, int]:
        """One decision: (code, seconds, remaining); code 1 now, 2 after a wait, 0 refused."""
        reply = self._client.perform(
            Eval(
                _ACQUIRE,
                (self._main, self._guard()),
                (self._iv_arg, self._burst_arg, cost, max_wait_us, f"{next(_requests):x}", self._window_arg),
                idempotent=True,
            )
        )
        code = int(reply[0])
        if code == -1:
            raise self._conflict(reply)
        if code == -2:
            raise WrongTypeError(f"key {self._main!r} holds a string that is not a rate limiter", key=self._main)
        if code not in (0, 1, 2):
            raise ScriptReplyError(f"ratelimit_acquire replied {reply!r} for key {self._main!r}")
        if code == 0:
            self._m_rejected.inc()
        else:
            self._m_admitted.inc()
        return code, int(reply[1]) / 1e6, int(reply[2])

    def _guard(self) -> str:
        """The retry guard key of the calling thread (of this process: new after a fork)."""
        found = getattr(self._local, "guard", None)
        token = process_token()
        if found is None or not found.startswith(token, len(self._guard_prefix)):
            found = self._local.guard = f"{self._guard_prefix}{token}:{threading.get_ident():x}"
        return found

    def _conflict(self, reply: Any) -> ConfigConflictError:
        iv = float(reply[1].decode() if isinstance(reply[1], bytes) else reply[1]) / 1e6
        burst = reply[2].decode() if isinstance(reply[2], bytes) else reply[2]
        return ConfigConflictError(
            f"rate limiter key {self.key!r} is in use with one admission every {iv:g} s (burst {burst}), "
            f"but this object admits one every {self._iv_us / 1e6:g} s (burst {self.burst}): "
            "two processes must not enforce different limits on one key",
            key=self.key,
        )

    def _check_cost(self, cost: Any) -> int:
        cost = _count("cost", cost)
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds burst {self.burst}: such a request could never be admitted")
        return cost

    def try_acquire(self, cost: int = 1) -> RateLimitDecision:
        """Decide now, without waiting: admitted (and counted) or not, and the retry-after.

        One round trip.  Raises ValueError when *cost* is below 1 or above ``burst``.
        """
        cost = self._check_cost(cost)
        code, seconds, remaining = self._decide(cost, 0)
        return RateLimitDecision(code != 0, 0.0 if code else seconds, remaining)

    def acquire(self, blocking: bool = True, timeout: float | None = None, cost: int = 1) -> bool:
        """Take *cost* admissions; return True when admitted.

        With *blocking* true and *timeout* None, always admitted: the server
        reserves the earliest slot and the caller sleeps exactly until it.  With
        a *timeout*, the slot is reserved only when it comes within *timeout*
        seconds; otherwise nothing is counted and False is returned at once
        (no pointless wait).  With *blocking* false, admitted only if it can be
        right now.  One round trip and at most one sleep per call.

        Raises:
            ValueError: *timeout* with *blocking* false, a negative *timeout*,
                or *cost* below 1 or above ``burst``.
        """
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
            if not timeout >= 0:
                raise ValueError("'timeout' must be a non-negative number")
        cost = self._check_cost(cost)
        if not blocking:
            max_wait = 0
        elif timeout is None or math.isinf(timeout):
            max_wait = -1
        else:
            max_wait = int(timeout * 1e6)
        start = time.monotonic()
        code, seconds, _ = self._decide(cost, max_wait)
        if code == 0:
            self._m_wait["timeout" if blocking else "busy"].observe(time.monotonic() - start)
            return False
        if code == 2:
            time.sleep(seconds)
        self._m_wait["acquired"].observe(time.monotonic() - start)
        return True

    def __enter__(self) -> RateLimiter:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, func: F) -> F:
        """Decorate *func* so that every call first waits for its admission.

        A coroutine function stays one: its wrapper awaits the admission, waiting
        in a worker thread (``asyncio.to_thread``), so the event loop goes on
        meanwhile.  A call cancelled during that wait may still use up an
        admission (the thread's decision is not taken back)."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def limited_async(*args: Any, **kwargs: Any) -> Any:
                await asyncio.to_thread(self.acquire)
                return await func(*args, **kwargs)

            return limited_async  # type: ignore[return-value]

        @functools.wraps(func)
        def limited(*args: Any, **kwargs: Any) -> Any:
            self.acquire()
            return func(*args, **kwargs)

        return limited  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<hotsync.RateLimiter key={self.key!r} rate={self.rate:g}/{self.per:g}s burst={self.burst}>"
