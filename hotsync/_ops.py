"""Calls that operations yield, and the deadline arithmetic they share.

Each blocking operation (lock acquire, queue get, ...) is written once as a
generator that yields calls (:class:`Eval`, :class:`Cmd`, :class:`Batch`) and
receives their replies; :meth:`hotsync.HotClient.drive` runs it.  The
generator holds every decision (what to run, how long to block, when to give
up); the driver holds all I/O and the retry policy.  The same generators can be
driven by an asyncio driver later, and unit-tested with scripted replies and a
fake clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Union

from ._scripts import Script

__all__ = ["Eval", "Cmd", "Batch", "Guard", "Call", "Ops", "Deadline", "block_arg", "check_lease", "check_lock_args", "MAX_BLOCK", "MAX_SECONDS"]

#: Longest single server-side block (seconds); longer waits re-issue the command.
#: Waiters still wake the moment they are signalled: this only bounds how long a
#: connection sits in one blocking command.
MAX_BLOCK = 30.0
#: Longest lease or extension accepted (about 31 years): beyond, Redis refuses the expiry.
MAX_SECONDS = 1e9


@dataclass(frozen=True, slots=True)
class Guard:
    """A condition a write must meet to be applied by ``transaction()``.

    A transaction whose calls carry guards checks them all before MULTI, with
    ``watch`` WATCHed, on the connection that then sends MULTI/EXEC: a failed check
    applies nothing, and a watched key changed in between makes EXEC apply nothing
    (and the transaction checks again).  Guards of one ``group`` are checked by one
    call, ``check(items of all of them)``: two puts of one transaction into a queue
    with one free slot must fail together.
    """

    group: Any
    watch: tuple[str, ...]
    check: Callable[[list[Any]], Eval]
    items: tuple[Any, ...]


@dataclass(slots=True)
class Eval:
    """Run a Lua script.  ``guard``: only inside ``transaction()`` (see :class:`Guard`)."""

    script: Script
    keys: tuple[str, ...]
    args: tuple[Any, ...]
    idempotent: bool = True
    guard: Guard | None = None

    def by_sha(self) -> Cmd:
        """This call as a plain ``EVALSHA`` command, for a pipeline (a :class:`Batch`
        sends scripts as EVAL with their body, which would travel on every round of a
        wait).  A NOSCRIPT reply is handled by the caller (or the client's rescue)."""
        return Cmd(("EVALSHA", self.script.sha, len(self.keys), *self.keys, *self.args))


@dataclass(slots=True)
class Cmd:
    """Run one native command.  ``block``: seconds the server may block on it."""

    args: tuple[Any, ...]
    idempotent: bool = True
    block: float = 0.0


@dataclass(slots=True)
class Batch:
    """Several calls pipelined in one round trip; the reply is the list of replies.

    A reply that is a Redis error appears in the list as the exception instance.
    With ``transaction=True`` the calls run inside MULTI/EXEC.
    """

    calls: tuple[Union[Eval, Cmd], ...]
    idempotent: bool = True
    block: float = 0.0
    transaction: bool = False


#: Eval, Cmd and Batch are never changed once made (one may be yielded again, or kept
#: for every renewal of a lease); they are not declared frozen because a frozen
#: dataclass sets each field through object.__setattr__, which doubled the cost of
#: making one, on every call of every operation.
Call = Union[Eval, Cmd, Batch]
Ops = Generator[Call, Any, Any]


class Deadline:
    """A point in monotonic time after which a wait gives up (None: never)."""

    __slots__ = ("at", "_clock")

    def __init__(self, timeout: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.at = None if timeout is None else clock() + timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None for an unbounded wait."""
        if self.at is None:
            return None
        return max(self.at - self._clock(), 0.0)

    def expired(self) -> bool:
        return self.at is not None and self._clock() >= self.at

    def block_for(self, *bounds: float | None) -> float:
        """Seconds to block now: the smallest of the time left, ``bounds`` and MAX_BLOCK."""
        best = MAX_BLOCK
        left = self.remaining()
        for b in (left, *bounds):
            if b is not None and b < best:
                best = b
        return max(best, 0.0)


def block_arg(seconds: float) -> str:
    """A blocking command's timeout argument: positive, millisecond resolution."""
    return "%.3f" % (seconds if seconds > 0.001 else 0.001)  # noqa: UP031 - %-format is the fastest here


def check_lease(lease: Any) -> None:
    """The lease checks Lock, RLock and the semaphores share (seconds, 0.01 to MAX_SECONDS)."""
    if isinstance(lease, bool) or not isinstance(lease, (int, float)):
        raise TypeError(f"lease must be a number of seconds, not {type(lease).__name__}")
    if not (lease > 0 and math.isfinite(lease)):
        raise ValueError(f"lease must be a positive, finite number of seconds, not {lease!r}")
    if lease < 0.01:
        raise ValueError("lease must be at least 0.01 seconds")
    if lease > MAX_SECONDS:
        raise ValueError(f"lease must be at most {MAX_SECONDS:.0e} seconds, not {lease!r}")


def check_lock_args(blocking: Any, timeout: Any) -> tuple[bool, float | None]:
    """Validate ``acquire(blocking, timeout)`` exactly as ``threading.Lock`` does.

    The arguments are handed to a fresh, unlocked ``_thread`` lock, so types,
    ranges and messages are the interpreter's own (an unlocked lock returns at
    once).  Returns ``(blocking, timeout_or_None)``.
    """
    probe = threading.Lock()
    probe.acquire(blocking, timeout)
    if not blocking:
        return False, 0.0
    if timeout == -1:
        return True, None
    if math.isnan(timeout):  # pragma: no cover - rejected by the probe already
        raise ValueError("Invalid value NaN (not a number)")
    return True, float(timeout)
