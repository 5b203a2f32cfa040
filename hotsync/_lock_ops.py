"""The lock's operations, written once (see :mod:`hotsync._ops`): acquire (unfair,
with starvation mode, and fair), leave the waiters, release.

Each operation is a generator that yields calls and receives their replies;
:class:`hotsync.lock._LockBase` runs them with its client.  The model and the
keys are in :mod:`hotsync.lock` and :mod:`hotsync._keys`.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from . import _line
from ._ops import Batch, Cmd, Deadline, Eval, Ops, block_arg
from ._renewal import Lease, process_token, scheduler
from ._scripts import script
from .client import HotClient
from .exceptions import OutcomeUnknownError, ScriptReplyError

__all__: list[str] = []

_ACQUIRE = script("lock_acquire")
# starvation mode of unfair locks (lock_acquire.lua): a waiter that has waited this
# long (s) claims the next release (the first claim stands), which grants it the lock
# directly; the claimant blocks at most _HUNGRY_ROUND (s) per round, so one that died
# holds a grant at most that long (plus 1 s of registration slack)
_HUNGRY = 0.001
_HUNGRY_ROUND = 1.0
_ACQUIRE_FAIR = script("lock_acquire_fair")
_RELEASE = script("lock_release")
_TICKET = script("lock_ticket")
_LEAVE = script("lock_leave")

#: Seconds a final release's request id is remembered beyond the client's retry
#: budget: the lost attempt's own time on the wire and the server, before the retry.
_RELEASE_MEMORY_MARGIN = 30.0


def _release_memory_ms(client: HotClient) -> int:
    """How long (ms) ``{K}:released`` remembers a final release: its retries end sooner."""
    return int((client.retry.budget + _RELEASE_MEMORY_MARGIN) * 1000)


_ids = itertools.count(1)


def _new_id() -> str:
    """A unique id: this process's random token and a counter (no syscall per call)."""
    return f"{process_token()}{next(_ids):x}"


def _granted(popped: Any) -> int | None:
    """The fencing token of a direct grant (``g<token>``, see lock_release.lua) that
    a BLPOP popped from a waiting call's wake-up list; None for a plain wake-up."""
    if popped is not None and popped[1][:1] == b"g":
        return int(popped[1][1:])
    return None


def _wait(keys: tuple[str, ...], block: float) -> Cmd:
    """The BLPOP of a waiting acquire.  Not retried blindly: a popped element is
    gone, so a retry after a lost reply would miss a direct grant (and wait on while
    the grant ages).  A lost reply raises OutcomeUnknownError instead, and the
    acquire loop runs its script again, which finds a grant by the request id."""
    return Cmd(("BLPOP", *keys, block_arg(block)), idempotent=False, block=block)


class _LockOps:
    """The operations of :class:`hotsync.lock._LockBase`, as generators."""

    def _acquire_ops(self, owner: str, req: str, blocking: bool, timeout: float | None) -> Ops:
        """Acquire; returns ``(fence, depth, sent, ttl)``: the hold's lease runs ``ttl``
        seconds from ``sent`` (monotonic), or None when not acquired."""
        if self.fair:
            return (yield from self._acquire_fair_ops(owner, req, blocking, timeout))
        deadline = Deadline(timeout if blocking else 0.0)
        wake_key = self._wait_key(f"{req}#{owner}")
        keys = (self._main, self._fence_key, self._waiters_key, wake_key)
        registered = False
        first = time.monotonic()
        try:
            while True:
                sent = time.monotonic()
                hungry = registered and sent - first > _HUNGRY
                register = int((deadline.block_for() + 1.0) * 1000) if blocking else 0
                # the claimant of the next release re-registers every _HUNGRY_ROUND at
                # least: a release grants it the lock only while it is registered
                claim_register = int((deadline.block_for(_HUNGRY_ROUND) + 1.0) * 1000) if hungry else 0
                reply = yield Eval(
                    _ACQUIRE,
                    keys,
                    (owner, req, self._lease_ms, register, 2 if hungry else 1 if registered else 0, claim_register),
                )
                grant = self._script_grant(reply, "lock_acquire", sent)
                if grant is not None:
                    registered = False  # the grant took us out of the waiters
                    return grant
                if not blocking:
                    return None
                registered = True
                if deadline.expired():  # leave the waiters now rather than at the registration's end
                    registered = False
                    return (yield from self._leave(owner, req, None, keep=True))
                pttl = int(reply[1])
                claimant = int(reply[2]) == 1
                block = deadline.block_for(pttl / 1000.0 if pttl >= 0 else None, _HUNGRY_ROUND if claimant else None)
                if block < 0.001:
                    continue
                # the claimant is also woken by name: the release it claimed grants it
                # the lock, for as long as its registration had left (at most its lease)
                try:
                    popped = yield _wait((wake_key, self._signal_key) if claimant else (self._signal_key,), block)
                except OutcomeUnknownError:
                    continue  # the reply (a wake-up or a grant) was lost: the next attempt finds out
                if not claimant:
                    continue
                token = _granted(popped)
                if token is not None:
                    ttl = min(self.lease, claim_register / 1000.0)
                    if sent + ttl - time.monotonic() > ttl / 3:
                        registered = False
                        return token, 1, sent, ttl
                    # too little is known to be left: the next attempt confirms the grant
                    # (found by our request id) and extends it to a full lease
        finally:
            if registered:  # an exception: leave, and pass on a grant we cannot use
                yield from self._leave(owner, req, None, keep=False)

    def _script_grant(self, reply: Any, script_name: str, sent: float) -> tuple[int, int, float, float] | None:
        """An acquire script's reply: ``(fence, depth, sent, lease)`` when granted, None when busy."""
        if reply[0] == 1:
            return int(reply[1]), int(reply[2]), sent, self.lease
        if reply[0] != 0:
            raise ScriptReplyError(f"{script_name} replied {reply!r} for key {self._main!r}")
        return None

    def _acquire_fair_ops(self, owner: str, req: str, blocking: bool, timeout: float | None) -> Ops:
        """FIFO acquire: a place in line (``<req>#<owner>``, one per call) with a
        leased ticket; the release before ours grants the lock to this call directly
        and pushes ``g<token>`` to its wake-up list (lock_release.lua)."""
        deadline = Deadline(timeout if blocking else 0.0)
        member = f"{req}#{owner}"
        wake_key = self._wait_key(member)
        ticket: Lease | None = None
        in_line = False
        keys = (self._main, self._fence_key, self._line_key, self._tickets_key, wake_key)
        try:
            while True:
                sent = time.monotonic()
                reply = yield Eval(_ACQUIRE_FAIR, keys, (owner, req, self._lease_ms, self._lease_ms if blocking else 0))
                grant = self._script_grant(reply, "lock_acquire_fair", sent)
                if grant is not None:
                    in_line = False  # the grant took us out of the line
                    if ticket is not None:
                        # the call waits no more: a later heartbeat of the ticket would
                        # find it out of line and push a wake-up nobody pops
                        scheduler().cancel(ticket)
                    return grant
                if not blocking:
                    return None
                in_line = True
                if deadline.expired():
                    in_line = False
                    return (yield from self._leave(owner, req, ticket, keep=True))
                if ticket is None or not ticket.active:  # none yet, or it lapsed: this attempt rejoined
                    ticket = self._start_ticket(member, sent)
                pttl = int(reply[1])
                # the release before ours (or a ticket) wakes us; whatever our place in
                # line, the wait ends with the current hold's lease (the holder's, or a
                # grant to a waiter ahead of us): a holder or a granted waiter that died
                # releases nothing, and the next attempt finds the lock free
                block = deadline.block_for(pttl / 1000.0 if pttl >= 0 else None)
                if block < 0.001:
                    continue
                try:
                    token = _granted((yield _wait((wake_key,), block)))
                except OutcomeUnknownError:
                    continue  # the reply (a wake-up or a grant) was lost: the next attempt finds out
                if token is not None:
                    # granted while we waited: the grant lives as long as our ticket had
                    # left, and we renew it on the ticket's schedule
                    scheduler().cancel(ticket)
                    ends, ticket = ticket.deadline, None
                    if ends - time.monotonic() > self.lease / 3:
                        in_line = False
                        return token, 1, ends - self.lease, self.lease
                    # too little of the ticket is known to be left: confirm the grant
                    # (the next acquire_fair finds it, by our request id, and extends it)
        finally:
            if in_line:  # an exception: leave the line, and pass on a grant we cannot use
                yield from self._leave(owner, req, ticket, keep=False)

    def _leave(self, owner: str, req: str, ticket: Lease | None, *, keep: bool) -> Ops:
        """Stop waiting: leave the fair line or the unfair waiters.  A grant made to
        this call meanwhile is kept (returned as from :meth:`_acquire_ops`) or, with
        ``keep`` false, released to the next waiter."""
        if ticket is not None:
            scheduler().cancel(ticket)
        sent = time.monotonic()
        reply = yield Eval(
            _LEAVE,
            (self._main, self._line_key, self._tickets_key, self._fence_key, self._waiters_key, self._signal_key,
             self._wait_key(f"{req}#{owner}")),
            (req, owner, self._lease_ms),
        )
        if reply[0] == 2:
            if keep:
                return int(reply[1]), 1, sent, self.lease
            yield from self._release_ops(owner, _new_id(), int(reply[1]))
        elif reply[0] == 1:
            yield self._wake(reply[1])
        return None

    def _release_ops(self, owner: str, req: str, token: int | None = None) -> Ops:
        reply = yield Eval(
            _RELEASE,
            (self._main, self._fence_key, self._waiters_key, self._signal_key, self._line_key, self._tickets_key,
             self._released_key),
            (owner, req, self._lease_ms, 1, self._wait_prefix, "" if token is None else str(token),  # 1: starvation
             _release_memory_ms(self._client)),
        )
        code = reply[0]
        if code == 0:
            return None
        if code not in (1, 2):
            raise ScriptReplyError(f"lock_release replied {reply!r} for key {self._main!r}")
        return int(reply[1])

    def _wake(self, owner: bytes) -> Batch:
        return _line.wake(self._wait_prefix, (owner,), self._lease_ms)

    def _start_ticket(self, owner: str, sent: float) -> Lease:
        ticket = Eval(_TICKET, (self._main, self._line_key, self._tickets_key), (owner, self._lease_ms))
        # a lapsed ticket wakes us to rejoin (after a grant that took us out of line, we
        # find the grant instead)
        return _line.start_ticket(self._client, ticket, self.lease, sent, self._wait_prefix, self._lease_ms,
                                  waiter=owner, kind=self._kind, name=self.key)
