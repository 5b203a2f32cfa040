"""The semaphore's operations, written once (see :mod:`hotsync._ops`): register,
acquire (unfair and fair), release; and what they know of holders and permits.

Each operation is a generator that yields calls and receives their replies;
:class:`hotsync.semaphore._SemaphoreBase` runs them with its client.  The model
and the key schema are in :mod:`hotsync.semaphore`'s docstring.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import NoScriptError

from . import _keys, _line
from ._ops import Batch, Cmd, Deadline, Eval, Ops, block_arg
from ._renewal import Lease, scheduler
from ._scripts import script
from .exceptions import OutcomeUnknownError, SemaphoreOverReleaseError, WrongTypeError

__all__: list[str] = []

_REGISTER = script("semaphore_register")
_ACQUIRE_FAIR = script("semaphore_acquire_fair")
_RELEASE = script("semaphore_release")
_TICKET = script("semaphore_ticket")
_LEAVE = script("semaphore_leave")

_HOST = socket.gethostname().replace("/", "_")
_CHUNK = 1000  # tokens per release script call (ARGV stays bounded)
#: Seconds an unfair acquire blocks before it lists itself in ``{K}:waiting``
#: (statistics().waiting).  Under contention most waits end within milliseconds;
#: listing every one (ZADD/ZREM around each BLMOVE) cost ~7% of the throughput
#: of 8 processes sharing 3 permits.  A longer wait blocks again, listed, for the rest.
_QUIET = 0.025
#: The largest capacity: every permit is a token in Redis (a million take about 20 MB,
#: and minting them blocks the server for about a second, measured here).
MAX_PERMITS = 1_000_000


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(eq=False)
class _Holder:
    """One thread of one semaphore object, as registered in ``{K}:holders``."""

    id: str
    held: str  # its token list
    until: float = 0.0  # monotonic time before which its registration certainly lasts
    deadline_ms: int = 0  # that registration's end in server ms (score of its waits)
    count: int = 0  # tokens recorded and not lost
    lease: Lease | None = None  # the heartbeat, while count > 0
    stale: list[str] = field(default_factory=list)  # tokens of its lost permits its list may still hold

    def lasts(self) -> float:
        """Monotonic time before which the registration certainly lasts."""
        lease = self.lease
        return max(self.until, lease.deadline) if lease is not None and lease.active else self.until


@dataclass(eq=False)
class _Permit:
    """What this process knows about one held permit (a token)."""

    token: str
    holder: _Holder
    acquired_at: float
    pid: int = field(default_factory=os.getpid)
    lost: str | None = None
    counted: bool = True  # still counted in hotsync_permits_in_use and holder.count


class _SemaphoreOps:
    """The operations of :class:`hotsync.semaphore._SemaphoreBase`, as generators."""

    def _register_ops(self, h: _Holder, moved: str | None = None) -> Ops:
        """Register ``h`` afresh (one round trip), then reap the expired holders it
        reports; returns whether ``h`` was registered already (1) or not (0: new, or
        reaped; then what it held is lost).

        ``moved``: a token just moved into ``h``'s list and not recorded yet (never
        given back as stale).  Safe to retry: the call carries a request id, and a
        retry of one that found ``h`` reaped says so again (``{K}:rev:<holder>``,
        written only when that matters: ``h`` holds permits, or ``moved``).
        """
        stale = [t for t in self._stale(h) if t != moved]
        with self._state:
            req = _new_id() if moved is not None or h.count > 0 else ""
        sent = time.monotonic()
        reply = yield Eval(
            _REGISTER,
            (self._main, self._meta_key, self._holders_key, h.held, self._rev_key(h)),
            (h.id, self._lease_ms, self._value_arg, self._stored_kind, req, self._mark_ms, *stale),
        )
        if reply[0] != 1:
            raise self._conflict(reply)
        self._registered(h, sent, reply[1], reply[3], stale)
        self._note_bound(reply[2], sent)
        if len(reply) > 4:
            yield self._reap_call(list(reply[4:]))
        return int(reply[3])

    def _acquire_ops(self, h: _Holder, waiter: str, blocking: bool, timeout: float | None) -> Ops:
        """Unfair acquire; returns the token taken, or None.

        The token moves from the free list into the holder's list with a native
        ``LMOVE`` (``BLMOVE`` when waiting), which only a registered holder may
        do: a token must never land in the list of a holder whose registration
        ended (it would be reaped, or lost).  So a move goes alone only while the
        holder's registration is known to outlast it by ``_margin``; otherwise a
        registration round (``semaphore_register``, which also reports holders
        whose lease ended, reaped at once) comes first, at least once a lease.  A
        wait is bounded by the earliest lease end among the other holders, then
        re-registers: that is how a dead holder's tokens come back to waiters
        without any release.  A wait that outlasts its first ``_QUIET`` (25 ms)
        blocks again for the rest listed in ``{K}:waiting`` (statistics), in
        the same round trip as the block.

        A move whose reply comes after the registration may have ended (it was
        late: a stall, or a retry of an unsent command) is not trusted: the
        holder registers again, and if it had been reaped meanwhile the token
        goes back (the registration script empties a reaped holder's list) and
        the acquire goes on.  Without ``auto_renew`` every acquire registers
        first, and a wait that took a token registers once more before it
        returns, so that its permit gets a whole lease.
        """
        if self.fair:
            return (yield from self._acquire_fair_ops(h, waiter, blocking, timeout))
        deadline = Deadline(timeout if blocking else 0.0)
        fresh = not self.auto_renew
        quiet_until = time.monotonic() + _QUIET
        while True:
            now = time.monotonic()
            hint = self._bound_at
            # h.until: a heartbeat keeps the permits alive, but a wait re-registers once a
            # lease, so that its {K}:waiting score stays current.  h.lasts(): a permit
            # taken now must get at least half a lease before its first renewal is due
            # (a pause shorter than the lease must not lose it)
            if (fresh or h.until - now < self._margin + 0.002 or h.lasts() - now < self._fresh
                    or (hint is not None and hint <= now)):
                yield from self._register_ops(h)
                fresh = False
                now = time.monotonic()
            left = h.until - now - self._margin
            block = min(deadline.block_for(self._hint()), left) if blocking else 0.0
            try:
                if block < 0.001:
                    token = yield Cmd(("LMOVE", self._main, h.held, "RIGHT", "LEFT"), idempotent=False)
                elif now < quiet_until:  # the first _QUIET of a wait goes unlisted
                    quiet = min(block, quiet_until - now)
                    token = yield Cmd(("BLMOVE", self._main, h.held, "RIGHT", "LEFT", block_arg(quiet)),
                                      idempotent=False, block=quiet)
                else:
                    calls = (
                        Cmd(("ZADD", self._waiting_key, h.deadline_ms, waiter)),
                        Cmd(("BLMOVE", self._main, h.held, "RIGHT", "LEFT", block_arg(block))),
                        Cmd(("ZREM", self._waiting_key, waiter)),
                    )
                    if self._client.reply_skip_works():
                        # the ZADD's reply is skipped: one sent before the BLMOVE blocks
                        # would wake this thread once more per wait
                        calls = (Cmd(("CLIENT", "REPLY", "SKIP")), *calls)
                    *_, listed, token, unlisted = yield Batch(calls, idempotent=False, block=block)
                    for reply in (listed, token, unlisted):
                        if isinstance(reply, Exception):
                            raise reply
            except OutcomeUnknownError:
                token = yield from self._recover(h)
            if token is not None:
                token = _text(token)
                # a move whose reply came after the registration may have ended is
                # verified; one that came near its end (a long wait) registers again,
                # so that the new permit gets a whole lease
                if h.lasts() - time.monotonic() >= self._fresh and not (not self.auto_renew and block >= 0.001):
                    return token
                if (yield from self._register_ops(h, moved=token)):
                    return token
                continue  # it landed after the holder was reaped: given back, look again
            if not blocking or deadline.expired():
                hint = self._bound_at
                if hint is None or hint > time.monotonic():
                    return None
                blocking = False  # a lease ended meanwhile: one last look, after reaping it

    def _recover(self, h: _Holder) -> Ops:
        """After a lost reply of a move: adopt a token it moved into our list.

        What the holder knows it holds is noted *before* the list is read (a token
        released meanwhile by another thread leaves ``known`` only after it left the
        list).  A token in the list and not known was moved by the lost call; more
        than one (several lost calls) go back to the free list.
        """
        with self._state:
            known = {p.token for p in self._permits_of(h)}
        entries = yield Cmd(("LRANGE", h.held, 0, -1))
        unknown = [_text(e) for e in entries or () if _text(e) not in known]
        if len(unknown) > 1:
            yield from self._release_ops(h, unknown[1:], 0, "")
        return unknown[0] if unknown else None

    def _acquire_fair_ops(self, h: _Holder, waiter: str, blocking: bool, timeout: float | None) -> Ops:
        """Fair acquire; returns the token taken, or None.  Each waiting round is
        one round trip: the BLPOP on this call's wake list pipelined with the
        acquire script, which the server runs as soon as the BLPOP returns.

        An attempt is not retried blindly after a lost reply (a retry of one that
        granted would be granted a second token, stranding the first in the
        holder's list): the holder's list tells whether it granted.  A call that
        may have joined the line leaves it when it ends without a grant.
        """
        deadline = Deadline(timeout if blocking else 0.0)
        ticket: Lease | None = None
        keys = (self._main, self._meta_key, self._line_key, self._tickets_key, self._holders_key, h.held)
        wake = self._wait_prefix + waiter
        in_line = False  # an attempt that may have joined the line was sent
        stale: list[str] = []

        def attempt() -> Eval:
            nonlocal stale, in_line
            stale = self._stale(h)
            in_line = in_line or blocking
            args = (waiter, h.id, self._lease_ms, self._lease_ms if blocking else 0, self._value_arg,
                    self._stored_kind, *stale)
            return Eval(_ACQUIRE_FAIR, keys, args, idempotent=False)

        def recovered() -> Ops:
            """After a lost reply: a grant learnt from the holder's list (as the
            script's reply, trusted once a registration finds the holder still
            registered), else the reply of a new attempt."""
            while True:
                token = yield from self._recover(h)
                if token is not None and (yield from self._register_ops(h, moved=token)):
                    return [1, token, 0, 1]
                try:
                    return (yield attempt())
                except OutcomeUnknownError:
                    continue

        try:
            sent = time.monotonic()
            try:
                reply = yield attempt()
            except OutcomeUnknownError:
                reply = yield from recovered()
            reaped = False
            while True:
                if isinstance(reply, Exception):
                    raise reply
                if reply[0] == 1:
                    in_line = False  # the grant took us out of the line
                    if reply[2]:
                        self._registered(h, sent, reply[2], reply[3], stale)
                    # else: adopted after a lost reply; recovered() registered the holder
                    if ticket is not None:
                        scheduler().cancel(ticket)
                        ticket = None
                    if len(reply) > 4:
                        yield self._wake(list(reply[4:]))
                    return _text(reply[1])
                if reply[0] != 0:
                    raise self._conflict(reply)
                if len(reply) > 3 and not reaped:  # leases ended: give their tokens back, look again
                    yield self._reap_call(list(reply[3:]))
                    reaped = True
                    sent = time.monotonic()
                    reply = yield attempt()
                    continue
                reaped = False
                if not blocking or deadline.expired():
                    return None
                if ticket is None or not ticket.active:  # none yet, or it lapsed: this attempt rejoined
                    ticket = self._start_ticket(waiter, sent)
                bound_ms = int(reply[1])
                # only the head wakes itself when a lease ends; a release, a grant or a
                # ticket renewal wakes the others
                bound = bound_ms / 1000.0 if bound_ms >= 0 and int(reply[2]) == 0 else None
                block = deadline.block_for(bound)
                sent = time.monotonic()
                try:
                    if block < 0.001:
                        reply = yield attempt()
                        continue
                    _, reply = yield Batch((Cmd(("BLPOP", wake, block_arg(block))), attempt().by_sha()),
                                           idempotent=False, block=block)
                except OutcomeUnknownError:
                    reply = yield from recovered()
                    continue
                if isinstance(reply, NoScriptError):  # script cache flushed: this loads it
                    reply = yield attempt()
        finally:
            if ticket is not None:
                scheduler().cancel(ticket)
            if in_line:
                reply = yield Eval(_LEAVE, (self._main, self._line_key, self._tickets_key), (waiter,))
                if len(reply) > 1:
                    yield self._wake(list(reply[1:]))

    def _release_ops(self, h: _Holder, tokens: list[str], extra: int, req: str) -> Ops:
        """Return ``tokens`` from ``h``'s list (by value; safe to retry) and raise the
        capacity by ``extra``; returns (tokens returned, whether ``h`` is registered)."""
        returned, registered = 0, True
        for start in range(0, max(len(tokens), 1), _CHUNK):
            chunk = tokens[start : start + _CHUNK]
            reply = yield Eval(
                _RELEASE,
                (
                    self._main,
                    self._meta_key,
                    h.held,
                    self._holders_key,
                    _keys.aux(self._main, f"done:{req}") if req else self._no_done_key,
                    self._line_key,
                ),
                (extra if start == 0 else 0, self._value_arg, self._stored_kind, self._mark_ms, self._wait_prefix,
                 self._lease_ms, MAX_PERMITS, h.id, *chunk),
            )
            if reply[0] == -2:
                raise SemaphoreOverReleaseError("Semaphore released too many times")
            if reply[0] == -3:
                raise ValueError(
                    f"semaphore {self.key!r}: releasing {extra} more permit(s) would raise its capacity of "
                    f"{int(reply[1])} past {MAX_PERMITS:,} (each permit is a token in Redis)"
                )
            if reply[0] != 1:
                raise self._conflict(reply)
            returned += int(reply[1])
            registered = registered and bool(int(reply[2]))
        return returned, registered

    def _native_release_ok(self, h: _Holder, now: float) -> bool:
        """Whether the one token ``h`` holds may go back with a native ``LMOVE``.

        Only for an unfair object (a fair one wakes the line in its release script)
        whose holder holds exactly one token and is certainly still registered: then
        the token is of the current generation (tokens are minted again only once
        nobody is registered) and the holder's list holds just it.
        """
        with self._state:
            return not self.fair and h.count == 1 and h.lasts() - now > self._margin and not self._departed_from(h)

    def _departed_from(self, h: _Holder) -> bool:
        """Whether another release from ``h``'s list is under way (call under _state)."""
        departing = self._departing
        return len(departing) > 1 and sum(1 for p in departing if p.holder is h) > 1

    def _release_one_ops(self, h: _Holder, token: str) -> Ops:
        """Return the one token ``h`` holds (see _native_release_ok), as _release_ops.

        The oldest end of the list (tokens land on the left): a token moved there
        meanwhile by a lost reply's move, adopted by another thread, stays.  Anything
        unexpected (nothing moved, another token moved, a lost reply, a key of
        another type) is settled by the release script, by token (safe to repeat;
        it also says whether the holder is still registered, and names the main key
        when that holds another type).
        """
        try:
            moved = yield Cmd(("LMOVE", h.held, self._main, "RIGHT", "LEFT"), idempotent=False)
        except (OutcomeUnknownError, WrongTypeError):
            moved = None
        if moved is not None and _text(moved) == token:
            return 1, True
        return (yield from self._release_ops(h, [token], 0, ""))

    def _start_ticket(self, waiter: str, sent: float) -> Lease:
        ticket = Eval(_TICKET, (self._main, self._line_key, self._tickets_key), (waiter, self._lease_ms))
        return _line.start_ticket(self._client, ticket, self.lease, sent, self._wait_prefix, self._lease_ms,
                                  waiter=waiter, kind=self._kind, name=self.key)
