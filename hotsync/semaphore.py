"""Semaphore and BoundedSemaphore: ``threading``'s semaphores across hosts, crash-safe.

A semaphore of capacity *n* is a Redis list of *n* tokens.  Acquiring moves one
token from the free list into the caller's own *holder* list (``BLMOVE``: a
waiter blocks in Redis and the server hands it the next token pushed, first
come first served); releasing moves it back.  A holder (one thread of one
semaphore object) is registered with a lease deadline that the process's
renewal scheduler pushes forward while it holds tokens; a holder that dies
stops renewing, and once its lease ends the next acquire gives its tokens back
to the free list (``semaphore_reap``).  Tokens are only ever moved, never
created twice or dropped, so the capacity stored in Redis is what every host
enforces.

Keys (``K`` is the main key; see :mod:`hotsync._keys` for the ``{K}`` form):

=====================  =======  ==============================================
key                    type     contents / lifetime
=====================  =======  ==============================================
``K``                  list     free tokens (``<server µs>.<n>``, unique); no
                                TTL: with ``{K}:meta`` it is what an idle
                                semaphore keeps (as many tokens as permits)
``{K}:meta``           hash     ``initial`` (value at creation), ``capacity``
                                (initial + permits added by releases),
                                ``kind`` (``semaphore``/``bounded``), ``seq``
                                (fair-line counter)
``{K}:holders``        zset     holder ``<host>/<pid>/<process>/<object>/<thread>``
                                -> lease deadline (server ms); TTL >= the
                                longest lease
``{K}:held:<holder>``  list     the tokens one holder holds; gone when empty
``{K}:waiting``        zset     unfair acquire call -> its holder's deadline
                                (server ms), while it blocks (statistics)
``{K}:w:<waiter>``     list     wake-up of one fair acquire call; TTL = lease
``{K}:line``           zset     fair waiter -> arrival number; TTL = ticket lease
``{K}:tickets``        zset     fair waiter -> ticket deadline; same TTL
``{K}:done:<req>``     string   a capacity-raising release was applied (so a
                                retry is not applied twice); TTL >= 60 s
=====================  =======  ==============================================

The atomic steps are ``lua/semaphore_*.lua``; the operations that run them
(register, acquire, release) are in :mod:`hotsync._semaphore_ops`.
"""

from __future__ import annotations

import itertools
import math
import operator
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _keys, _line
from ._ops import Batch, Eval, check_lease
from ._pickling import rebuild
from ._renewal import Lease, process_token, scheduler
from ._scripts import script
from ._semaphore_ops import _HOST, MAX_PERMITS, _Holder, _new_id, _Permit, _SemaphoreOps, _text
from .client import HotClient, default_client
from .exceptions import (
    ConfigConflictError,
    LockNotOwnedError,
    ScriptReplyError,
    SemaphoreOverReleaseError,
)

__all__ = ["Semaphore", "BoundedSemaphore", "SemaphoreStatistics"]

_INIT = script("semaphore_init")
_REAP = script("semaphore_reap")
_RENEW = script("semaphore_renew")
_STATS = script("semaphore_stats")

_KIND_NAMES = {"semaphore": "Semaphore", "bounded": "BoundedSemaphore"}


@dataclass(frozen=True, slots=True)
class SemaphoreStatistics:
    """A semaphore's state at one instant of the Redis server's clock.

    Attributes:
        value: permits free now (tokens in the free list): the stdlib's counter.
        capacity: permits in total: the initial value plus permits added by
            releases beyond what their releaser held (never for BoundedSemaphore).
        initial: the value the semaphore was created with.
        in_use: permits not free (``capacity - value``): held on some host, or
            held by a holder that died and was not reaped yet.
        waiting: callers blocked in ``acquire()`` on any host for more than
            25 ms (approximate: shorter waits are not counted, and a waiter that
            died is counted until its holder's lease ends).
        held: permits held by this object (local knowledge, no round trip).
    """

    value: int
    capacity: int
    initial: int
    in_use: int
    waiting: int
    held: int


class _SemaphoreBase(_SemaphoreOps):
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
        if value > MAX_PERMITS:
            raise ValueError(f"semaphore initial value must be at most {MAX_PERMITS:,} (each permit is a token in Redis)")
        check_lease(lease)
        self._client = client if client is not None else default_client()
        self.key, main = self._client.key_for(key, self._kind)
        self._main = main
        self._meta_key = _keys.aux(main, "meta")
        self._holders_key = _keys.aux(main, "holders")
        self._waiting_key = _keys.aux(main, "waiting")
        self._line_key = _keys.aux(main, "line")
        self._tickets_key = _keys.aux(main, "tickets")
        self._wait_prefix = _keys.aux(main, "w:")  # + waiter id: its own wake-up list
        self._no_done_key = _keys.aux(main, "done:-")  # passed when a release raises no capacity
        self.initial_value = int(value)
        self._value_arg = str(int(value))
        self.lease = float(lease)
        self._lease_ms = max(int(lease * 1000), 10)
        # a BLMOVE sent alone must end before its holder's registration does, by this
        # much (the time it may spend on its way to the server)
        self._margin = min(max(self.lease / 10, 0.05), self.lease / 4)
        # a move goes alone only while the registration outlasts it by this much (the
        # life a new permit gets before its first renewal is due at a third of it)
        self._fresh = self.lease / 2
        self._mark_ms = int(max(60.0, 2 * self._client.retry.budget) * 1000)
        # a reaped holder's tombstone: a move sent before the reap (retried, stalled)
        # reaches the server within the retry budget plus the longest block
        self._grace_ms = int((self._client.retry.budget + self.lease) * 1000) + 1000
        self._bound_at: float | None = None  # monotonic time of the earliest other lease end last seen
        self.auto_renew = bool(auto_renew)
        self.fair = bool(fair)
        self.on_lost = on_lost
        #: Set when a permit of this object is lost before release (its lease
        #: ended and it was reclaimed, the key was deleted, or Redis was
        #: unreachable for a whole lease); cleared by the next successful acquire.
        self.lost = threading.Event()
        self._owner = ""
        self._owner_pid = -1
        self._holders: dict[int, _Holder] = {}
        self._calls = itertools.count(1)  # numbers acquire calls (waiter ids: holder id + number)
        self._permits: deque[_Permit] = deque()
        self._departing: list[_Permit] = []  # taken by a release still under way (see _recover)
        self._state = threading.Lock()
        m = self._client.metrics
        label = m.name(self.key)
        outcomes = ("acquired", "timeout", "busy")
        self._m_wait = {o: m.acquire_wait.labels(self._kind, label, o) for o in outcomes}
        self._m_count = {o: m.acquisitions.labels(self._kind, label, o) for o in outcomes}
        self._m_hold = m.hold.labels(self._kind, label)
        self._m_in_use = m.permits_in_use.labels(self._kind, label)
        # Store the settings (minting the tokens), or check them (one round trip).
        reply = self._client.perform(
            Eval(_INIT, (self._meta_key, self._main, self._holders_key), (self._value_arg, self._stored_kind))
        )
        if reply[0] != 1:
            raise self._conflict(reply)
        if key is not None:
            self._client.register(self._kind, main)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as a handle: the copy is a new object on the same key with the same
        settings (``on_lost`` included, so it must be picklable), holding no permit:
        permits never travel (see :mod:`hotsync._pickling`)."""
        return rebuild, (type(self), (self.initial_value, self.key, self._client),
                         {"lease": self.lease, "auto_renew": self.auto_renew, "fair": self.fair,
                          "on_lost": self.on_lost})

    # -- helpers -------------------------------------------------------------

    def _conflict(self, reply: Any) -> Exception:
        if reply[0] != -1:
            return ScriptReplyError(f"semaphore script replied {reply!r} for key {self._main!r}")
        stored = f"{_KIND_NAMES.get(_text(reply[2]), _text(reply[2]))}({_text(reply[1])})"
        return ConfigConflictError(
            f"semaphore key {self.key!r} already exists as {stored}, but this object is "
            f"{self._cls}({self.initial_value}): two processes must not enforce different limits on one key "
            "(use another key, or delete the old one once nobody uses it)",
            key=self.key,
        )

    def _holder(self) -> _Holder:
        """The calling thread's holder (its registration and token list)."""
        tid = threading.get_ident()
        with self._state:
            self._forget_forked()
            h = self._holders.get(tid)
            if h is None:
                hid = f"{self._owner}/{tid:x}"
                h = self._holders[tid] = _Holder(hid, self._held_key(hid))
            return h

    def _held_key(self, holder: Any) -> str:
        return _keys.aux(self._main, "held:" + _text(holder))

    def _rev_key(self, h: _Holder) -> str:
        return _keys.aux(self._main, "rev:" + h.id)

    def _wake(self, waiters: list[Any]) -> Batch:
        return _line.wake(self._wait_prefix, waiters, self._lease_ms)

    def _forget_forked(self) -> None:
        """In a forked child, permits and holders of the parent are not ours (call under _state)."""
        pid = os.getpid()
        if pid != self._owner_pid:
            self._owner = f"{_HOST}/{pid}/{process_token()}/{_new_id()[:8]}"
            self._owner_pid = pid
            self._holders = {}
            self._permits = deque(p for p in self._permits if p.pid == pid)

    def _reap_call(self, expired: list[Any]) -> Eval:
        held = tuple(self._held_key(e) for e in expired)
        return Eval(_REAP, (self._main, self._meta_key, self._holders_key, self._waiting_key, *held),
                    (self._grace_ms, *expired))

    def _permits_of(self, h: _Holder) -> list[_Permit]:
        """``h``'s permits, held or being released (call under _state)."""
        return [p for p in (*self._permits, *self._departing) if p.holder is h]

    def _stale(self, h: _Holder) -> list[str]:
        """Tokens of ``h``'s lost permits to give back at its next registration: not
        one a live permit of ``h`` holds again (tokens come back to the free list and
        may be taken again)."""
        with self._state:
            live = {p.token for p in self._permits_of(h) if p.lost is None}
            h.stale = [t for t in h.stale if t not in live]
            return list(h.stale)

    def _registered(self, h: _Holder, sent: float, deadline_ms: Any, was: Any, stale: list[str]) -> None:
        """Note a registration (or a fair grant, which registers) sent at ``sent``
        with the stale tokens ``stale`` (given back by the script)."""
        if not int(was):  # it had lapsed and was reaped (or deleted): its tokens went back
            self._lose_holder(h, "expired")
        with self._state:
            if int(was):
                h.stale = [t for t in h.stale if t not in stale]
            else:  # the script emptied the list
                h.stale = []
        h.until = max(h.until, sent + self.lease)
        h.deadline_ms = int(deadline_ms)

    def _note_bound(self, bound_ms: Any, sent: float) -> None:
        """Note when the earliest other lease ends; with no other holder, look again
        after a lease (a holder registered later, with as long a lease, ends after)."""
        bound = int(bound_ms)
        self._bound_at = sent + (bound / 1000.0 if bound >= 0 else self.lease)

    def _hint(self) -> float | None:
        """Seconds until the earliest other lease end last seen by this object (None: unknown)."""
        at = self._bound_at
        return None if at is None else max(at - time.monotonic(), 0.0)

    # -- public API ---------------------------------------------------------

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Acquire one permit, blocking or non-blocking; return True when acquired.

        With *blocking* true (the default) and *timeout* None, wait until a
        permit is free on any host, take it, and return True.  With a
        *timeout*, wait at most that many seconds and return False if no permit
        came free (zero or a negative timeout: try once, like the stdlib).  With
        *blocking* false, never wait.

        The wait happens in Redis (``BLMOVE`` on the free-token list): a release
        on any host hands its token to a blocked waiter at once.  It
        is bounded by the earliest lease end among the holders, so a crashed
        holder's permit also ends the wait (its tokens are reaped, then taken).
        No polling.  An acquire is one round trip (``LMOVE``/``BLMOVE``), plus
        one to register this thread's holder when its registration is not known
        to outlast the wait (first use, or idle for most of a lease).

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
            if not isinstance(timeout, (int, float)):  # True is 1, as for threading.Semaphore
                raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
            if math.isnan(timeout):
                raise ValueError("timeout must be a number, not NaN")
            if timeout <= 0:  # the stdlib tries once
                blocking, timeout = False, None
        start = time.monotonic()
        h = self._holder()
        token = self._client.drive(self._acquire_ops(h, f"{h.id}#{next(self._calls)}", blocking, timeout))
        waited = time.monotonic() - start
        if token is None:
            outcome = "timeout" if asked_to_wait else "busy"
            self._m_wait[outcome].observe(waited)
            self._m_count[outcome].inc()
            return False
        self._m_wait["acquired"].observe(waited)
        self._m_count["acquired"].inc()
        self._record_grant(token, h)
        return True

    def _record_grant(self, token: str, h: _Holder) -> None:
        now = time.monotonic()
        permit = _Permit(token, h, now)
        with self._state:
            self._forget_forked()
            self._permits.append(permit)
            h.count += 1
            start = self.auto_renew and (h.lease is None or not h.lease.active)
            if start:
                h.lease = Lease(
                    self._client,
                    Eval(_RENEW, (self._holders_key,), (h.id, self._lease_ms)),
                    self.lease,
                    now,
                    lambda reason: self._lose_holder(h, reason),
                    check=lambda reply: self._renewed(h, reply),
                    kind=self._kind,
                    name=self.key,
                    first=max(h.until - now, 0.001),
                )
        if start:
            scheduler().add(h.lease)  # type: ignore[arg-type]
        self._m_in_use.inc()
        if self.lost.is_set():  # clear() takes the event's lock: only when needed
            self.lost.clear()

    def _renewed(self, h: _Holder, reply: Any) -> bool:
        """A heartbeat's reply (renewal thread): still registered?  A holder that
        holds nothing stops its heartbeat here, at its first renewal since its last
        release (not at the release: a thread that acquires again soon keeps one
        heartbeat instead of starting one per acquire); its registration lasts a
        lease more, and the next acquire registers it again if needed."""
        if reply != 1:
            return False
        with self._state:
            lease = h.lease
            if h.count == 0 and lease is not None:
                h.until = max(h.until, lease.deadline)
                h.lease = None
                lease.active = False
        return True

    def _lose_holder(self, h: _Holder, reason: str) -> None:
        """``h``'s registration ended (reaped, deleted, or not renewed in time):
        every permit it held is lost."""
        with self._state:
            lease, h.lease = h.lease, None
            h.until = 0.0  # the next acquire registers again, giving back what the list still holds
            # permits being released count too: their release must not count them off again
            lost = [p for p in self._permits_of(h) if p.lost is None]
            for p in lost:
                p.lost = reason
            h.stale += [p.token for p in lost]
            counted = sum(1 for p in lost if p.counted)
            for p in lost:
                p.counted = False
            h.count = 0
        if lease is not None:
            scheduler().cancel(lease)
        for _ in range(counted):
            self._m_in_use.dec()
        if not lost:
            return
        self.lost.set()
        if self.on_lost is not None:
            self.on_lost(self)

    def _check_release(self, n: Any) -> int:
        """Argument checks of ``release``, exactly as the stdlib's: ``n < 1`` first, then
        an integer (``True`` is 1; ``1.5`` raises the interpreter's own TypeError)."""
        if n < 1:
            raise ValueError("n must be one or more")
        return operator.index(n)

    def _release(self, n: int, bounded: bool) -> None:
        with self._state:
            self._forget_forked()
            if bounded and n > len(self._permits):
                raise SemaphoreOverReleaseError("Semaphore released too many times")
            taken = [self._permits.popleft() for _ in range(min(n, len(self._permits)))]
            self._departing += taken
        extra = n - len(taken)
        sent = time.monotonic()
        # A permit already known lost is not sent: its token went back when its holder
        # was reaped, and the same holder may hold that very token again since (for a
        # permit acquired later); returning it would free that one.
        live = [p for p in taken if p.lost is None]
        short: list[_Permit] = [p for p in taken if p.lost is not None]
        if len(live) == 1:
            groups = [live]
        else:  # one release call per holder list
            by_holder: dict[int, list[_Permit]] = {}
            for permit in live:
                by_holder.setdefault(id(permit.holder), []).append(permit)
            groups = list(by_holder.values()) or ([[]] if extra else [])
        returned = 0
        try:
            req = _new_id() if extra else ""
            for group in groups:
                h = group[0].holder if group else self._holder()
                if not extra and len(group) == 1 and self._native_release_ok(h, sent):
                    got, registered = self._client.drive(self._release_one_ops(h, group[0].token))
                else:
                    got, registered = self._client.drive(
                        self._release_ops(h, [p.token for p in group], extra, req))
                extra = 0
                returned += got
                if got < len(group):
                    short += group
                    if not registered:  # reaped, or the keys were lost (restart): so is all it held
                        self._lose_holder(h, "expired")
        finally:
            now = time.monotonic()
            with self._state:
                for permit in taken:  # by identity (_Permit has eq=False); each was added once above
                    self._departing.remove(permit)
                for permit in taken:
                    counted, permit.counted = permit.counted, False
                    if counted:
                        self._m_in_use.dec()
                        permit.holder.count -= 1  # at 0 its heartbeat stops itself (see _renewed)
                    self._m_hold.observe(now - permit.acquired_at)
        if short:
            # Tokens missing from their holder's list were either returned by an
            # earlier attempt of this very call (a retry after a lost reply) or
            # reaped after their holder's lease ended.  Only the second is possible
            # once the holder's registration was known to have lapsed.
            if any(p.lost is not None or sent >= p.holder.lasts() for p in short):  # lost ones included
                lost = len(taken) - returned
                raise LockNotOwnedError(
                    f"{self._cls} {self.key!r}: {lost} of the {len(taken)} released permit(s) "
                    "had been lost before release (lease ended and reclaimed, or key deleted): "
                    "work done under them may have overlapped more holders than the capacity",
                    key=self.key,
                )

    def statistics(self) -> SemaphoreStatistics:
        """Return the semaphore's state as a frozen record (one round trip).

        Counts are taken at one instant of the Redis server's clock; the permits
        of a holder whose lease ended count as in use until an acquire reaps them.
        """
        reply = self._client.read(
            Eval(_STATS, (self._main, self._meta_key, self._waiting_key, self._tickets_key), (), idempotent=True)
        )
        capacity, initial, free, waiting = (int(x) for x in reply[:4])
        if capacity < 0:  # settings deleted: the next acquire stores ours again
            capacity = initial = self.initial_value
        with self._state:
            self._forget_forked()
            held = len(self._permits)
        return SemaphoreStatistics(free, capacity, initial, max(capacity - free, 0), waiting, held)

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
        ``value`` plus permits added by releases, see below), and as many
        *tokens*: a free token waits in the list at the main key, a held one
        in its holder's list.  ``acquire()`` moves a free token into this
        object's holder list; ``release()`` moves it back.  The stdlib's
        counter is the number of free tokens (``statistics().value``).

    Distributed semantics:
        *Settings.* The first object created for a key stores its ``value``
        in Redis and mints that many tokens; creating one with a different
        ``value`` (or a ``BoundedSemaphore`` on a ``Semaphore``'s key, or the
        reverse) raises :class:`~hotsync.ConfigConflictError` naming the key
        and both settings, so two processes never enforce different limits
        (an existing object whose key is re-created meanwhile finds out at
        its next registration or release script).  An idle semaphore keeps
        its settings (``{K}:meta``) and its free tokens (``K``).
        *Lease.* A holder (one thread of one object) is registered with a
        lease; with ``auto_renew`` (default) the process's single renewal
        thread renews it every ``lease / 3`` seconds while it holds permits
        (one renewal per holder, however many permits it holds).  A holder
        that dies (SIGKILL, power loss, partition) stops renewing, and once
        its lease ends the next ``acquire()`` on any host reaps it: its tokens
        go back to the free list, atomically (``semaphore_reap``).  Should
        every holder's registration lapse before anyone reaps them, the next
        acquire mints a fresh generation of ``capacity`` tokens, and tokens
        of the old one are dropped when returned: no permit is lost for good,
        none is counted twice.
        *Loss.* When a holder's registration cannot be renewed (reaped after a
        pause longer than the lease, key deleted, Redis unreachable for a
        whole lease), ``lost`` is set and ``on_lost(semaphore)`` is called at
        once; ``release()`` of a permit whose token was reaped raises
        :class:`~hotsync.LockNotOwnedError`, because work done under it may
        have overlapped more holders than the capacity.
        *Release beyond what this object holds.* As in ``threading``,
        ``release()`` without a matching ``acquire()`` adds permits: ``release(n)``
        first returns up to ``n`` permits this object holds (oldest first), and
        the rest *raise the shared capacity* by that many (minting tokens), for
        every host and for good (it is stored).  A release never frees a permit
        held by another object or host: those return when their holder
        releases them or its lease ends.  :class:`BoundedSemaphore` refuses
        such releases.
        *Waiting.* Waiters block inside Redis (``BLMOVE`` on the free list),
        and the server hands each released token to the waiter blocked
        longest: nearly FIFO, and a newcomer cannot take a token a waiter is
        owed.  A wait is bounded by the earliest lease end among the other
        holders (so a crashed holder's permit also ends it); there is no
        polling.  ``fair=True`` is strictly FIFO (among callers that all use
        ``fair=True``; an unfair object's release does not wake the fair line,
        whose waiters then find the token at their next ticket renewal, within
        a third of a lease), at the price of a script per acquire and release;
        each waiter's place in line is itself leased, so a waiter that dies
        leaves the line within one lease.
        *Retries.* Every step is safe to retry after a lost reply: releases
        and capacity raises are checked by token and request id in the
        scripts, and a blocking acquire whose reply is lost looks in its own
        holder list for the token the server may have moved there.
        *Clock.* Leases are timed by the Redis server; host clocks are never
        compared.
        *Fork.* A forked child does not inherit its parent's permits.

    Differences from ``threading.Semaphore``:
        ``value`` must be an int, and the capacity (``value`` plus permits added
        by releases) at most :data:`MAX_PERMITS` (1,000,000): every permit is a
        token in Redis (``ValueError`` beyond).  ``with sem as s`` binds the
        semaphore, not True.  It can be pickled (passed to a spawned worker): the
        copy is a semaphore on the same key that holds no permit.  A release with no permit held adds capacity *in Redis* (see
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
        n = self._check_release(n)
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
        n = self._check_release(n)
        self._release(n, bounded=True)
