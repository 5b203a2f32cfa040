"""Semaphore and BoundedSemaphore: ``threading``'s semaphores across hosts, crash-safe.

Every held permit is a leased entry in a sorted set, renewed by the process's
renewal scheduler; a holder that dies stops renewing, and its permits are
reclaimed (inside the next acquire) once their lease ends.  The capacity lives
in Redis, so every host enforces the same limit.

Keys (``K`` is the main key; see :mod:`hotsync._keys` for the ``{K}`` form):

====================  =======  ==============================================
key                   type     contents / lifetime
====================  =======  ==============================================
``K``                 zset     held permits ``<owner>/<n>`` and handoffs
                               ``~h:<n>.<µs>`` -> lease deadline (server ms);
                               TTL >= the longest lease, so it vanishes when
                               idle
``{K}:meta``          hash     ``initial`` (value at creation), ``capacity``
                               (initial + permits added by releases), ``kind``
                               (``semaphore``/``bounded``), ``seq`` (counter of
                               handoffs and of the fair line), ``maxlease``
                               (longest lease of a waiter).  The one key an
                               idle semaphore keeps.
``{K}:waiters``       zset     registered unfair waiter -> registration
                               deadline; TTL = longest registration
``{K}:handoffs``      zset     permits released to unfair waiters, not yet
                               popped (``BZPOPMIN``) -> take-by deadline (their
                               permits live a whole lease past it); TTL = their
                               permits' lease
``{K}:w:<permit>``    zset /   wake-up of one acquire call (unfair: zset popped
                      list     with the handoffs; fair: list); TTL <= 60 s
``{K}:line``          zset     fair waiter -> arrival number; TTL = ticket lease
``{K}:tickets``       zset     fair waiter -> ticket deadline; same TTL
``{K}:done:<req>``    string   a capacity-raising release was applied (so a
                               retry is not applied twice); TTL >= 60 s
====================  =======  ==============================================

The atomic steps are ``lua/semaphore_*.lua``.
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import NoScriptError

from . import _keys, _line
from ._ops import Batch, Cmd, Deadline, Eval, Ops
from ._renewal import Lease, process_token, scheduler
from ._scripts import script
from .client import HotClient, default_client
from .exceptions import ConfigConflictError, LockNotOwnedError, ScriptReplyError, SemaphoreOverReleaseError

__all__ = ["Semaphore", "BoundedSemaphore", "SemaphoreStatistics"]

_INIT = script("semaphore_init")
_ACQUIRE = script("semaphore_acquire")
_ACQUIRE_FAIR = script("semaphore_acquire_fair")
_RELEASE = script("semaphore_release")
_RENEW = script("semaphore_renew")
_TICKET = script("semaphore_ticket")
_LEAVE = script("semaphore_leave")
_STATS = script("semaphore_stats")

_HOST = socket.gethostname().replace("/", "_")
_CHUNK = 1000  # permits per release script call (ARGV stays bounded)
_HANDOFF_MS = 2000  # how long a permit handed to a woken waiter stays reserved for waiters
_FIRST_BLOCK = 0.25  # first wait of a pipelined contended acquire, before the bound is known
_KIND_NAMES = {"semaphore": "Semaphore", "bounded": "BoundedSemaphore"}


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _pipelined(call: Eval) -> Cmd:
    """A script call for a pipeline that also blocks: EVALSHA as a plain command.

    (A :class:`Batch` sends scripts as EVAL with their body; here the body would
    travel on every waiting round.)  A NOSCRIPT reply is handled by the caller.
    """
    return Cmd(("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args))


def _seconds(value: float) -> str:
    """A blocking-pop timeout: positive, millisecond resolution."""
    return f"{max(value, 0.001):.3f}"


@dataclass(frozen=True, slots=True)
class SemaphoreStatistics:
    """A semaphore's state at one instant of the Redis server's clock.

    Attributes:
        value: permits free now (``capacity - in_use``): the stdlib's counter.
        capacity: permits in total: the initial value plus permits added by
            releases beyond what their releaser held (never for BoundedSemaphore).
        initial: the value the semaphore was created with.
        in_use: permits held on any host (leases not yet ended).
        waiting: callers blocked in ``acquire()`` on any host (approximate: a
            waiter that just gave up may still be counted for a moment).
        held: permits held by this object (local knowledge, no round trip).
    """

    value: int
    capacity: int
    initial: int
    in_use: int
    waiting: int
    held: int


@dataclass(eq=False)
class _Permit:
    """What this process knows about one held permit."""

    member: str
    acquired_at: float
    deadline: float  # monotonic time before which Redis certainly still holds it
    pid: int = field(default_factory=os.getpid)
    lease: Lease | None = None
    lost: str | None = None
    counted: bool = True  # still counted in hotsync_permits_in_use


class _SemaphoreBase:
    """Everything Semaphore and BoundedSemaphore share; they differ in ``release``."""

    _kind = "semaphore"  # metric label
    _stored_kind = "semaphore"  # meta.kind
    _cls = "Semaphore"

    def __init__(
        self,
        value: int = 1,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        lease: float = 30.0,
        auto_renew: bool = True,
        fair: bool = False,
        on_lost: Callable[[Any], None] | None = None,
    ) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"semaphore initial value must be an int, not {type(value).__name__}")
        if isinstance(lease, bool) or not isinstance(lease, (int, float)):
            raise TypeError(f"lease must be a number of seconds, not {type(lease).__name__}")
        if not (lease > 0 and math.isfinite(lease)):
            raise ValueError(f"lease must be a positive, finite number of seconds, not {lease!r}")
        if lease < 0.01:
            raise ValueError("lease must be at least 0.01 seconds")
        self._client = client if client is not None else default_client()
        self.key, main = self._client.key_for(key, self._kind)
        self._main = main
        self._meta_key = _keys.aux(main, "meta")
        self._waiters_key = _keys.aux(main, "waiters")
        self._line_key = _keys.aux(main, "line")
        self._tickets_key = _keys.aux(main, "tickets")
        self._handoffs_key = _keys.aux(main, "handoffs")
        self._wait_prefix = _keys.aux(main, "w:")  # + waiter id: its own wake-up list
        self._handoffs_bytes = self._handoffs_key.encode()
        self._no_done_key = _keys.aux(main, "done:-")  # passed when a release raises no capacity
        self.initial_value = int(value)
        self._value_arg = str(int(value))
        self.lease = float(lease)
        self._lease_ms = max(int(lease * 1000), 10)
        self._mark_ms = int(max(60.0, 2 * self._client.retry.budget) * 1000)
        self._handoff_ms = min(self._lease_ms, _HANDOFF_MS)
        self._contended = False  # did the last acquire of this object have to wait?
        self._bound_at: float | None = None  # monotonic time of the earliest lease end last seen
        self.auto_renew = bool(auto_renew)
        self.fair = bool(fair)
        self.on_lost = on_lost
        #: Set when a permit of this object is lost before release (its lease
        #: ended and it was reclaimed, the key was deleted, or Redis was
        #: unreachable for a whole lease); cleared by the next successful acquire.
        self.lost = threading.Event()
        self._owner = ""
        self._owner_pid = -1
        self._ids = itertools.count(1)
        self._permits: deque[_Permit] = deque()
        self._state = threading.Lock()
        m = self._client.metrics
        label = m.name(self.key)
        outcomes = ("acquired", "timeout", "busy")
        self._m_wait = {o: m.acquire_wait.labels(self._kind, label, o) for o in outcomes}
        self._m_count = {o: m.acquisitions.labels(self._kind, label, o) for o in outcomes}
        self._m_hold = m.hold.labels(self._kind, label)
        self._m_in_use = m.permits_in_use.labels(self._kind, label)
        # Store the settings, or check them against the stored ones (one round trip).
        reply = self._client.perform(Eval(_INIT, (self._meta_key, self._main), (self._value_arg, self._stored_kind)))
        if reply[0] != 1:
            raise self._conflict(reply)
        if key is not None:
            self._client.register(self._kind, main)

    # -- helpers -------------------------------------------------------------

    def _conflict(self, reply: Any) -> Exception:
        if reply[0] != -1:
            return ScriptReplyError(f"semaphore script replied {reply!r} for key {self._main!r}")
        stored_value = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        stored_kind = reply[2].decode() if isinstance(reply[2], bytes) else str(reply[2])
        stored = f"{_KIND_NAMES.get(stored_kind, stored_kind)}({stored_value})"
        return ConfigConflictError(
            f"semaphore key {self.key!r} already exists as {stored}, but this object is "
            f"{self._cls}({self.initial_value}): two processes must not enforce different limits on one key "
            "(use another key, or delete the old one once nobody uses it)",
            key=self.key,
        )

    def _new_member(self) -> str:
        """A permit id unique across hosts, processes (fork included) and objects."""
        pid = os.getpid()
        if pid != self._owner_pid:
            self._owner = f"{_HOST}/{pid}/{process_token()}/{_new_id()[:8]}"
            self._owner_pid = pid
        return f"{self._owner}/{next(self._ids)}"

    def _wait_key(self, waiter: str) -> str:
        return self._wait_prefix + waiter

    def _wake(self, waiters: list[Any]) -> Batch:
        return _line.wake(self._wait_prefix, waiters, self._lease_ms)

    def _forget_forked(self) -> None:
        """In a forked child, permits of the parent are not ours (call under _state)."""
        if self._permits and self._permits[0].pid != os.getpid():
            self._permits = deque(p for p in self._permits if p.pid == os.getpid())

    # -- the operations, written once (see hotsync._ops) ------------------

    def _granted(self, reply: Any) -> bool:
        """Decode an acquire reply: True granted, False busy; raise on anything else."""
        if isinstance(reply, Exception):
            raise reply
        if reply[0] == 1:
            return True
        if reply[0] == 0:
            return False
        raise self._conflict(reply)

    def _acquire_ops(self, member: str, blocking: bool, timeout: float | None) -> Ops:
        """Unfair acquire; returns ``(permit member, sent)`` or None.

        A caller that must wait registers (in the acquire script), then blocks in
        ``BZPOPMIN`` on the handoffs zset, where ``release`` puts a permit for each
        registered waiter: the permit popped is the caller's (no second step), and
        callers that did not register cannot take it.  The pop is pipelined with the
        removal of the caller's registration, so a waiter served by any handoff
        leaves none behind to draw a later one.  When the last acquire of
        this object had to wait, the first try is pipelined with the BZPOPMIN (the
        script adds to this call's own wake zset when it grants, so the BZPOPMIN
        returns at once): a contended acquire then costs one round trip.
        """
        if self.fair:
            return (yield from self._acquire_fair_ops(member, blocking, timeout))
        deadline = Deadline(timeout if blocking else 0.0)
        own = self._wait_key(member)
        keys = (self._main, self._meta_key, self._waiters_key, self._handoffs_key, own)
        handoffs = self._handoffs_bytes

        def attempt(block: float | None, push: bool = False) -> Eval:
            wait = 0 if block is None else int((block + 1.0) * 1000)  # None: unregister
            return Eval(_ACQUIRE, keys, (member, self._lease_ms, wait, self._value_arg, self._stored_kind, int(push)))

        def pop(block: float) -> tuple[Cmd, Cmd]:
            # the ZREM runs as soon as the pop returns, in the same round trip: whatever
            # it popped (a handoff made for any registered waiter, a grant, nothing),
            # this call's registration is used up and must not draw a later handoff
            # (when nothing came, the next round registers again)
            return (Cmd(("BZPOPMIN", own, self._handoffs_key, _seconds(block)), block=block),
                    Cmd(("ZREM", self._waiters_key, member)))

        sent = time.monotonic()
        if not blocking:
            return (member, sent) if self._granted((yield attempt(None))) else None
        registered = False
        if self._contended:
            block = deadline.block_for(self._hint(), _FIRST_BLOCK)
            # the script's reply is not sent (CLIENT REPLY SKIP): what the BZPOPMIN pops
            # tells it all: this call's own wake zset (granted; 'c': settings conflict,
            # re-read below), a handoff, or nothing (busy; re-register below)
            _, _, popped, _ = yield Batch(
                (Cmd(("CLIENT", "REPLY", "SKIP")), _pipelined(attempt(block, push=True)), *pop(block)), block=block
            )
            if popped is not None:
                if popped[0] == handoffs:
                    return popped[1].decode(), sent
                if popped[1] == b"g":
                    self._contended = False
                    return member, sent
        while True:
            if deadline.expired():
                return (member, sent) if self._granted((yield attempt(None))) else None
            if not registered:
                sent = time.monotonic()
                reply = yield attempt(deadline.block_for())
                if self._granted(reply):
                    return member, sent
                self._contended = registered = True
                self._note_bound(reply, sent)
            block = deadline.block_for(self._hint())
            registered = False  # unless a handoff comes, re-register (and re-read the bound) next round
            if block < 0.001:
                continue
            # `sent` stays the time of the registering try: a handoff popped now was not
            # stale then, so its permit lives a whole lease past that (semaphore_acquire)
            popped, _ = yield Batch(pop(block), block=block)
            if popped is not None and popped[0] == handoffs:
                return popped[1].decode(), sent

    def _note_bound(self, reply: Any, sent: float) -> None:
        bound_ms = int(reply[1])
        self._bound_at = sent + bound_ms / 1000.0 if bound_ms >= 0 else None

    def _hint(self) -> float | None:
        """Seconds until the earliest lease end last seen by this object (None: unknown)."""
        at = self._bound_at
        return None if at is None else max(at - time.monotonic(), 0.0)

    def _acquire_fair_ops(self, member: str, blocking: bool, timeout: float | None) -> Ops:
        """Fair acquire; returns ``(member, sent)`` or None.  Each waiting round is
        one round trip: the BLPOP on this call's wake list pipelined with the
        acquire script, which the server runs as soon as the BLPOP returns."""
        deadline = Deadline(timeout if blocking else 0.0)
        ticket: Lease | None = None
        keys = (self._main, self._meta_key, self._line_key, self._tickets_key)
        wake = self._wait_key(member)

        def attempt() -> Eval:
            args = (member, self._lease_ms, self._lease_ms if blocking else 0, self._value_arg, self._stored_kind)
            return Eval(_ACQUIRE_FAIR, keys, args)

        try:
            sent = time.monotonic()
            reply = yield attempt()
            while True:
                if self._granted(reply):
                    if ticket is not None:  # the grant took us out of the line already
                        scheduler().cancel(ticket)
                        ticket = None
                    if len(reply) > 2:
                        yield self._wake(list(reply[2:]))
                    return member, sent
                if not blocking or deadline.expired():
                    return None
                if ticket is None or not ticket.active:  # none yet, or it lapsed: this attempt rejoined
                    ticket = self._start_ticket(member, sent)
                bound_ms = int(reply[1])
                # only the head wakes itself when a lease ends; a release, a grant or a
                # ticket renewal wakes the others
                bound = bound_ms / 1000.0 if bound_ms >= 0 and int(reply[2]) == 0 else None
                block = deadline.block_for(bound)
                sent = time.monotonic()
                if block < 0.001:
                    reply = yield attempt()
                    continue
                _, reply = yield Batch(
                    (Cmd(("BLPOP", wake, _seconds(block))), _pipelined(attempt())), block=block
                )
                if isinstance(reply, NoScriptError):  # script cache flushed: this loads it
                    reply = yield attempt()
        finally:
            if ticket is not None:
                scheduler().cancel(ticket)
                reply = yield Eval(_LEAVE, keys, (member,))
                if len(reply) > 1:
                    yield self._wake(list(reply[1:]))

    def _release_ops(self, members: list[str], extra: int, req: str) -> Ops:
        removed = 0
        for start in range(0, max(len(members), 1), _CHUNK):
            chunk = members[start : start + _CHUNK]
            reply = yield Eval(
                _RELEASE,
                (
                    self._main,
                    self._meta_key,
                    self._waiters_key,
                    _keys.aux(self._main, f"done:{req}") if req else self._no_done_key,
                    self._handoffs_key,
                    self._line_key,
                    self._tickets_key,
                ),
                (extra if start == 0 else 0, self._lease_ms, self._mark_ms, self._handoff_ms, self._value_arg,
                 self._stored_kind, self._wait_prefix, *chunk),
            )
            if reply[0] == -2:
                raise SemaphoreOverReleaseError("Semaphore released too many times")
            if reply[0] != 1:
                raise self._conflict(reply)
            removed += int(reply[1])
        return removed

    def _start_ticket(self, member: str, sent: float) -> Lease:
        keys = (self._main, self._meta_key, self._line_key, self._tickets_key)
        ticket = Eval(_TICKET, keys, (member, self._lease_ms))
        return _line.start_ticket(self._client, ticket, self.lease, sent, self._wait_prefix, self._lease_ms,
                                  waiter=member, kind=self._kind, name=self.key)

    # -- public API ---------------------------------------------------------

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Acquire one permit, blocking or non-blocking; return True when acquired.

        With *blocking* true (the default) and *timeout* None, wait until a
        permit is free on any host, take it, and return True.  With a
        *timeout*, wait at most that many seconds and return False if no permit
        came free (zero or a negative timeout: try once, like the stdlib).  With
        *blocking* false, never wait.

        The wait happens in Redis: the caller registers as a waiter and blocks
        until ``release()`` hands it a permit, bounded by the earliest lease end
        among the holders, so a crashed holder's permit also ends the wait (it
        is reclaimed by the next acquire).  No polling.  An uncontended acquire
        is one round trip; so is a contended one, once this object has seen
        contention (its first try is pipelined with the blocking pop).

        Raises:
            ValueError: *timeout* given with *blocking* false (the stdlib's
                message), or a NaN timeout.
            ConfigConflictError: the key was re-created with other settings
                since this object was made.
        """
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        blocking = bool(blocking)
        asked_to_wait = blocking
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
            if math.isnan(timeout):
                raise ValueError("timeout must be a number, not NaN")
            if timeout <= 0:  # the stdlib tries once
                blocking, timeout = False, None
        start = time.monotonic()
        result = self._client.drive(self._acquire_ops(self._new_member(), blocking, timeout))
        waited = time.monotonic() - start
        if result is None:
            outcome = "timeout" if asked_to_wait else "busy"
            self._m_wait[outcome].observe(waited)
            self._m_count[outcome].inc()
            return False
        self._m_wait["acquired"].observe(waited)
        self._m_count["acquired"].inc()
        self._record_grant(*result)
        return True

    def _record_grant(self, member: str, sent: float) -> None:
        permit = _Permit(member, time.monotonic(), sent + self.lease)
        if self.auto_renew:
            permit.lease = Lease(
                self._client,
                Eval(_RENEW, (self._main,), (member, self._lease_ms)),
                self.lease,
                sent,
                lambda reason: self._lose(permit, reason),
                kind=self._kind,
                name=self.key,
            )
        with self._state:
            self._forget_forked()
            self._permits.append(permit)
        if permit.lease is not None:
            scheduler().add(permit.lease)
        self._m_in_use.inc()
        self.lost.clear()

    def _lose(self, permit: _Permit, reason: str) -> None:
        with self._state:
            if permit.lost is not None:
                return
            permit.lost = reason
            counted, permit.counted = permit.counted, False
            mine = any(p is permit for p in self._permits)
        if permit.lease is not None:
            scheduler().cancel(permit.lease)
        if counted:
            self._m_in_use.dec()
        if not mine:
            return
        self.lost.set()
        if self.on_lost is not None:
            self.on_lost(self)

    def _check_release(self, n: int) -> None:
        """Argument checks of ``release``, exactly as the stdlib's."""
        if n < 1:
            raise ValueError("n must be one or more")
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")

    def _release(self, n: int, bounded: bool) -> None:
        with self._state:
            self._forget_forked()
            if bounded and n > len(self._permits):
                raise SemaphoreOverReleaseError("Semaphore released too many times")
            taken = [self._permits.popleft() for _ in range(min(n, len(self._permits)))]
        extra = n - len(taken)
        sent = time.monotonic()
        for permit in taken:
            if permit.lease is not None:
                scheduler().cancel(permit.lease)
                permit.deadline = permit.lease.deadline
        try:
            req = _new_id() if extra else ""
            removed = self._client.drive(self._release_ops([p.member for p in taken], extra, req))
        finally:
            now = time.monotonic()
            for permit in taken:
                with self._state:
                    counted, permit.counted = permit.counted, False
                if counted:
                    self._m_in_use.dec()
                self._m_hold.observe(now - permit.acquired_at)
        if removed < len(taken):
            # Missing permits were either released by an earlier attempt of this
            # very call (a retry after a lost reply) or reclaimed after their lease
            # ended.  Only the second is possible once the local deadline passed.
            if any(p.lost is not None or sent >= p.deadline for p in taken):
                raise LockNotOwnedError(
                    f"{self._cls} {self.key!r}: {len(taken) - removed} of the {len(taken)} released permit(s) "
                    "had been lost before release (lease ended and reclaimed, or key deleted): "
                    "work done under them may have overlapped more holders than the capacity",
                    key=self.key,
                )

    def statistics(self) -> SemaphoreStatistics:
        """Return the semaphore's state as a frozen record (one round trip).

        Counts are taken at one instant of the Redis server's clock; permits whose
        lease ended count as free even before they are reclaimed.
        """
        reply = self._client.read(
            Eval(_STATS, (self._main, self._meta_key, self._waiters_key, self._tickets_key), (), idempotent=True)
        )
        capacity, initial, in_use, waiting = (int(x) for x in reply[:4])
        if capacity < 0:  # settings deleted: the next acquire stores ours again
            capacity = initial = self.initial_value
        with self._state:
            self._forget_forked()
            held = len(self._permits)
        return SemaphoreStatistics(max(capacity - in_use, 0), capacity, initial, in_use, waiting, held)

    @property
    def held(self) -> int:
        """Permits held by this object (local knowledge; no round trip)."""
        with self._state:
            self._forget_forked()
            return len(self._permits)

    def __enter__(self) -> Any:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        fair = " fair" if self.fair else ""
        return (
            f"<hotsync.{self._cls} key={self.key!r} initial={self.initial_value}{fair} "
            f"lease={self.lease:g}s held={len(self._permits)}>"
        )


class Semaphore(_SemaphoreBase):
    """A counting semaphore shared by every process that uses the same key.

    ``Semaphore(3, key="upstream")`` on any number of hosts lets at most three
    callers in at a time.  ``acquire()`` takes a *permit* held by this object;
    ``release()`` gives it back.  Permits belong to the object, not to a thread:
    any thread of the process may release a permit the object holds.

    Model:
        The semaphore has a ``capacity`` (stored in Redis: the initial
        ``value`` plus permits added by releases, see below) and a set of held
        permits.  ``acquire()`` succeeds when fewer than ``capacity`` permits
        are held.  The stdlib's counter is ``capacity - in_use``
        (``statistics().value``).

    Distributed semantics:
        *Settings.* The first object created for a key stores its ``value``
        in Redis; creating one with a different ``value`` (or a
        ``BoundedSemaphore`` on a ``Semaphore``'s key, or the reverse) raises
        :class:`~hotsync.ConfigConflictError` naming the key and both
        settings, so two processes never enforce different limits.  The
        settings (``{K}:meta``) are the one key an idle semaphore keeps.
        *Lease.* Every permit expires ``lease`` seconds after its last renewal;
        with ``auto_renew`` (default) the process's single renewal thread
        renews all its permits every ``lease / 3`` seconds.  A holder that dies
        (SIGKILL, power loss, partition) stops renewing, and its permits come
        back within one lease (a permit handed over by ``release()`` that its
        taker never renewed: one lease plus the handoff window, at most 2 s
        more, so that a taker always gets a whole lease): the next
        ``acquire()`` reclaims them atomically.
        *Loss.* When a permit cannot be renewed (reclaimed after a pause longer
        than the lease, key deleted, Redis unreachable for a whole lease),
        ``lost`` is set and ``on_lost(semaphore)`` is called at once;
        ``release()`` of a permit found reclaimed raises
        :class:`~hotsync.LockNotOwnedError`, because work done under it may
        have overlapped more holders than the capacity.
        *Release beyond what this object holds.* As in ``threading``,
        ``release()`` without a matching ``acquire()`` adds permits: ``release(n)``
        first returns up to ``n`` permits this object holds (oldest first), and
        the rest *raise the shared capacity* by that many, for every host and
        for good (it is stored).  A release never frees a permit held by
        another object or host: those return when their holder releases them
        or its lease ends.  :class:`BoundedSemaphore` refuses such releases.
        *Waiting.* Waiters register and block inside Redis (``BZPOPMIN``),
        bounded by the earliest lease end among the holders (so a crashed
        holder's permit also ends the wait); there is no polling.
        ``release(n)`` hands up to ``n`` permits straight to registered
        waiters: the permit a waiter pops is its own, and a newcomer cannot
        take it first.  Waiters are served in the order they started blocking
        (Redis serves blocked clients first come, first served), which is
        nearly FIFO; a permit handed to a waiter that died meanwhile goes to
        the next waiter, or back to everyone after 2 s.  ``fair=True`` is
        strictly FIFO (among callers that all use ``fair=True``), at the price
        of one more round trip per hand-over; each waiter's place in line is
        itself leased, so a waiter that dies leaves the line within one lease.
        *Retries.* Every step is safe to retry after a lost reply (permit ids
        and request ids are checked in the scripts), except that a blocking
        acquire whose reply is lost after the server handed it a permit cannot
        learn which one: it retries and gets another, and the unknown one comes
        back when its lease ends.
        *Clock.* Leases are timed by the Redis server; host clocks are never
        compared.
        *Fork.* A forked child does not inherit its parent's permits.

    Differences from ``threading.Semaphore``:
        ``value`` must be an int.  ``with sem as s`` binds the semaphore, not
        True.  A release with no permit held adds capacity *in Redis* (see
        above), so it outlives the process; permits taken by ``acquire()`` are
        held (and renewed) until released, so a consumer that acquires without
        ever releasing keeps them while it lives, and they come back when it
        dies: for producer/consumer hand-offs use :class:`hotsync.Queue`.
        Extra: ``statistics()``, ``held``, ``lost``, ``on_lost``, ``lease``,
        ``fair``.

    Creating the object is one round trip (it stores or checks the settings).

    Example::

        upstream = hotsync.Semaphore(3, key="fragile-upstream", lease=30)
        with upstream:
            call_the_fragile_upstream()
    """

    _kind = "semaphore"
    _stored_kind = "semaphore"
    _cls = "Semaphore"

    def release(self, n: int = 1) -> None:
        """Release *n* permits: this object's first, then raise the shared capacity.

        Wakes up to *n* waiters on any host.

        Raises:
            ValueError: *n* is less than one (the stdlib's message).
            LockNotOwnedError: (a RuntimeError) some of the released permits had
                been lost before this call (lease ended and reclaimed); the
                release itself completed.
        """
        self._check_release(n)
        self._release(n, bounded=False)


class BoundedSemaphore(_SemaphoreBase):
    """A semaphore whose capacity never exceeds its initial value.

    Like :class:`Semaphore` (same distributed semantics: leased permits
    reclaimed after a crash, capacity and kind stored in Redis and checked
    for conflicts, waiting in Redis, ``fair=True``), but ``release()`` of more
    permits than this object holds raises
    :class:`~hotsync.SemaphoreOverReleaseError` (a ``ValueError``) with the
    stdlib's message ``"Semaphore released too many times"``, before anything
    is written.

    Differences from ``threading.BoundedSemaphore``: the check is per object:
    an object may release only permits it acquired (with any of its threads),
    even while other objects or hosts hold permits of the same key (one object
    cannot release another's permit).  See :class:`Semaphore` for the rest.

    Example::

        pool = hotsync.BoundedSemaphore(5, key="db-connections")
        with pool:
            use_a_connection()
    """

    _kind = "bounded_semaphore"
    _stored_kind = "bounded"
    _cls = "BoundedSemaphore"

    def release(self, n: int = 1) -> None:
        """Release *n* permits held by this object; wake up to *n* waiters.

        Raises:
            ValueError: *n* is less than one (the stdlib's message).
            SemaphoreOverReleaseError: (a ValueError, ``"Semaphore released too
                many times"``) this object holds fewer than *n* permits; nothing
                was released.
            LockNotOwnedError: (a RuntimeError) some of the released permits had
                been lost before this call; the release itself completed.
        """
        self._check_release(n)
        self._release(n, bounded=True)
