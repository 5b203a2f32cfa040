"""One renewal scheduler per process for every lease it holds.

Lock holds, semaphore permits, fair-waiter tickets and queue-consumer
heartbeats are all leases: Redis forgets them unless they are renewed.  Instead
of a thread per lock, one daemon thread keeps a heap of :class:`Lease` objects
ordered by when they are due (a third of their TTL after the last confirmed
renewal), and renews all that are due together, pipelined per client (and per
cluster node) in one round trip.

A lease is declared **lost** when

* its renewal script answers that the owner no longer holds it (expired,
  deleted, taken over), or
* renewal could not be confirmed before the lease's local deadline: the send
  time of the last confirmed renewal plus the TTL.  This is conservative: Redis
  started the TTL after that send, so it cannot have kept the lease longer.

The owner is then told at once through its ``on_lost`` callback (locks set
their ``lost`` event and turn ``owned()`` false).  Callbacks run on the
scheduler thread or on a renewal helper, and must be short.

The scheduler thread never waits on a server.  The renewal calls of each group
(a client, or a cluster node) run on a short-lived helper thread, at most one
per group at a time, so that a server that stalls holds up only its own leases:
the others, including leases added during the stall, keep being renewed, and a
lease of the stalled group is declared lost by the scheduler thread ``_LATE``
(50 ms) after its deadline, whatever its helper is still blocked on.

After ``fork()`` the child starts with an empty scheduler and a new process
token: it inherits no ownership, and its own leases get a fresh thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis import exceptions as rx

from ._ops import Eval

if TYPE_CHECKING:
    from .client import HotClient

__all__ = ["Lease", "Scheduler", "scheduler", "process_token"]

log = logging.getLogger("hotsync.renewal")

_token = uuid.uuid4().hex[:16]


def process_token() -> str:
    """A random id of this process (renewed in a forked child)."""
    return _token


#: How long after a lease's deadline its renewal may still answer (a lease whose
#: deadline is that close when it is sent, e.g. a registration made long before its
#: first renewal, still gets one answer: Redis started its TTL after the send).
_LATE = 0.05


class Lease:
    """Something this process keeps alive in Redis by re-running ``renew``.

    Args:
        client: the client to renew through.
        renew: the renewal script call.
        ttl: lease length in seconds.
        sent_at: monotonic time at which the grant was sent (starts the clock).
        on_lost: called once with a reason (``"expired"`` or ``"unreachable"``).
        check: maps a renewal reply to True (still held) or False (lost);
            default ``reply == 1``.  May perform side effects (fair waiters wake
            the head of the line here).
        kind, name: metric labels.
        period: seconds between renewals (default ttl / 3).
        first: seconds the grant lives before its first renewal, when that is less
            than ``ttl`` (a lock granted for what the waiter's registration had
            left); the first renewal then comes at ``first / 3``.
    """

    __slots__ = (
        "client", "renew", "ttl", "period", "deadline", "due", "active", "on_lost", "check", "kind", "name",
        "entry", "watched",
    )

    def __init__(
        self,
        client: HotClient,
        renew: Eval,
        ttl: float,
        sent_at: float,
        on_lost: Callable[[str], None],
        *,
        check: Callable[[Any], bool] | None = None,
        kind: str = "lock",
        name: str = "",
        period: float | None = None,
        first: float | None = None,
    ) -> None:
        self.client = client
        self.renew = renew
        self.ttl = ttl
        self.period = ttl / 3 if period is None else period
        self.deadline = sent_at + (ttl if first is None else first)
        self.due = sent_at + (self.period if first is None else first / 3)
        self.active = True
        self.on_lost = on_lost
        self.check = check or _reply_is_one
        self.kind = kind
        self.name = name
        self.entry = -1  # seq of its live heap entry, -1 for none (see Scheduler)
        self.watched = False  # its live entry is a deadline watch while its group's helper is out

    def __repr__(self) -> str:
        return f"<Lease {self.kind} {self.name!r} active={self.active}>"


def _reply_is_one(reply: Any) -> bool:
    return reply == 1


class Scheduler:
    """The renewal thread of this process.  Use :func:`scheduler` to get it.

    The thread itself never waits on a server.  Each round it takes the leases
    that are due, sorts them into groups (client, cluster node) and hands each
    group to a short-lived helper thread, at most one per group at a time.
    While a group's helper is out, the heap keeps a *watch* entry for each of
    its leases at the lease's deadline, and leases of that group that come due
    meanwhile wait (watched too) for the helper to return: a lease whose
    deadline passes while its server has not answered is declared lost by this
    thread ``_LATE`` after the deadline, whatever its helper is blocked on.

    A heap entry is ``(due, seq, lease)``; only the entry whose ``seq`` is
    ``lease.entry`` counts, older ones are dropped when they surface.
    """

    def __init__(self) -> None:
        self._cv = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Lease]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        # when the sleeping thread wakes next (-inf while it is busy): an add due
        # later needs no wake-up, so short holds cost no thread switch
        self._wake_at = math.inf
        # groups whose helper is out -> the leases it renews and those that came due meanwhile
        self._inflight: dict[tuple[int, int], list[Lease]] = {}

    def add(self, lease: Lease) -> None:
        """Start renewing ``lease``."""
        with self._cv:
            self._push(lease)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hotsync-renewal", daemon=True)
                self._thread.start()

    def cancel(self, lease: Lease) -> None:
        """Stop renewing ``lease`` (it is dropped lazily from the heap)."""
        lease.active = False

    def pending(self) -> int:
        """Number of active leases (for tests and inspection)."""
        with self._cv:
            return sum(1 for _, seq, lease in self._heap if lease.active and seq == lease.entry)

    def _run(self) -> None:
        while True:
            with self._cv:
                while True:
                    now = time.monotonic()
                    dropped = None
                    while self._heap and not _current(self._heap[0]):
                        dropped = heapq.heappop(self._heap)[0]
                    if self._heap and self._heap[0][0] <= now:
                        break
                    if self._heap:
                        until: float | None = self._heap[0][0]
                    else:  # idle: leases added from now on are due after the last one dropped
                        until = dropped if dropped is not None and dropped > now else None
                    self._wake_at = math.inf if until is None else until
                    self._cv.wait(None if until is None else until - now)
                self._wake_at = -math.inf
                try:
                    batches, lost = self._take_due(now)
                except Exception:  # pragma: no cover - never let the thread die
                    log.exception("hotsync renewal round failed")
                    continue
            for group, leases in batches.items():
                try:
                    threading.Thread(
                        target=self._renew_apart, args=(group, leases), name="hotsync-renewal-group", daemon=True
                    ).start()
                except Exception:  # noqa: BLE001 - no thread to spare: try again soon
                    log.exception("hotsync renewal round failed")
                    with self._cv:
                        self._finish(group, retry=0.1)
            for lease in lost:
                self._lose(lease, "unreachable")

    def _take_due(self, now: float) -> tuple[dict[tuple[int, int], list[Lease]], list[Lease]]:
        """Pop the due leases: batch them per idle group, watch the rest.  Holds _cv.

        Returns the batches to hand to helpers (their groups now in flight) and
        the leases whose deadline passed while their group's helper was out.
        """
        batches: dict[tuple[int, int], list[Lease]] = {}
        lost: list[Lease] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if not _current(entry):
                continue
            lease = entry[2]
            try:
                group = self._group(lease)
            except Exception:  # noqa: BLE001 - cluster routing failed: try again soon
                log.exception("hotsync renewal could not route %r", lease)
                lease.due = now + 0.1
                self._push(lease)
                continue
            waiting = self._inflight.get(group)
            if waiting is None:  # idle group: renew it on a helper of its own
                batches.setdefault(group, []).append(lease)
            elif now >= lease.deadline + _LATE:  # its server has not answered in time
                lease.entry, lease.watched = -1, False  # neither its helper nor _finish puts it back
                lost.append(lease)
            else:  # its server is busy with an earlier round: wait for it, until the deadline (+ _LATE)
                if not lease.watched:
                    waiting.append(lease)
                self._watch(lease)
        for group, leases in batches.items():
            self._inflight[group] = list(leases)
            for lease in leases:
                self._watch(lease)
        return batches, lost

    def _watch(self, lease: Lease) -> None:
        """Re-enter ``lease`` at its deadline (+ _LATE) while its group's helper is out.  Holds _cv."""
        lease.due = lease.deadline + _LATE
        self._push(lease)
        lease.watched = True

    @staticmethod
    def _group(lease: Lease) -> tuple[int, int]:
        client = lease.client
        node = client._pool_for(lease.renew.keys[0]) if client._cluster else None
        return id(client), id(node)

    def _renew_apart(self, group: tuple[int, int], leases: list[Lease]) -> None:
        """Renew one group on its helper thread (see :meth:`_run`)."""
        lost: list[tuple[Lease, str]] = []
        retry = 0.0
        try:
            lost = self._renew_group(leases)
        except Exception:  # pragma: no cover - never lose track of a lease
            log.exception("hotsync renewal round failed")
            retry = 0.1
        finally:
            with self._cv:
                self._finish(group, retry)
        for lease, reason in lost:
            self._lose(lease, reason)

    def _finish(self, group: tuple[int, int], retry: float) -> None:
        """The helper of ``group`` is back: leases it left watched are due again.  Holds _cv."""
        due = time.monotonic() + retry
        for lease in self._inflight.pop(group, ()):
            if lease.active and lease.watched:
                lease.due = due
                self._push(lease)

    def _push(self, lease: Lease) -> None:
        """Make ``lease``'s heap entry the one at ``lease.due``; wake the thread if it is due sooner.  Holds _cv."""
        seq = next(self._seq)
        lease.entry = seq
        lease.watched = False
        heapq.heappush(self._heap, (lease.due, seq, lease))
        if lease.due < self._wake_at:
            self._wake_at = lease.due
            self._cv.notify()

    def _renew_group(self, leases: list[Lease]) -> list[tuple[Lease, str]]:
        client = leases[0].client
        sent = time.monotonic()
        wait = max(min(lease.deadline for lease in leases) - sent, _LATE)
        commands = [
            ("EVALSHA", ls.renew.script.sha, len(ls.renew.keys), *ls.renew.keys, *ls.renew.args) for ls in leases
        ]
        lost: list[tuple[Lease, str]] = []
        try:
            replies = client.execute_many(commands, key=leases[0].renew.keys[0], timeout=wait)
        except Exception as exc:  # noqa: BLE001 - connection trouble: try again soon
            replies = [exc] * len(leases)
        renewed: list[Lease] = []
        retry_at: list[Lease] = []
        for lease, reply in zip(leases, replies):
            if not lease.active:
                continue
            if isinstance(reply, rx.NoScriptError):
                try:
                    reply = client.run_script(lease.renew.script, lease.renew.keys, lease.renew.args, idempotent=True)
                except Exception as exc:  # noqa: BLE001
                    reply = exc
            if isinstance(reply, Exception):
                client.metrics.renewals.labels(lease.kind, client.metrics.name(lease.name), "failed").inc()
                if time.monotonic() >= lease.deadline:
                    lost.append((lease, "unreachable"))
                else:
                    retry_at.append(lease)
                continue
            try:
                alive = lease.check(reply)
            except Exception:  # noqa: BLE001
                log.exception("hotsync lease check failed for %r", lease)
                alive = True
            if alive:
                client.metrics.renewals.labels(lease.kind, client.metrics.name(lease.name), "ok").inc()
                renewed.append(lease)
            else:
                lost.append((lease, "expired"))
        now = time.monotonic()
        with self._cv:  # under the lock: the scheduler thread judges watched leases by their deadline
            for lease, _ in lost:
                lease.entry, lease.watched = -1, False  # _finish must not put it back
            for lease in renewed:
                if lease.active and lease.entry != -1:  # not declared lost meanwhile
                    lease.deadline = sent + lease.ttl
                    lease.due = sent + lease.period
                    self._push(lease)
            for lease in retry_at:
                if lease.active and lease.entry != -1:
                    lease.due = now + min(0.25, max((lease.deadline - now) / 4, 0.01))
                    self._push(lease)
        return lost

    def _lose(self, lease: Lease, reason: str) -> None:
        with self._cv:  # the scheduler thread and a helper may both give up on it
            if not lease.active:
                return
            lease.active = False
        m = lease.client.metrics
        m.leases_lost.labels(lease.kind, m.name(lease.name), reason).inc()
        try:
            lease.on_lost(reason)
        except Exception:  # noqa: BLE001
            log.exception("hotsync on_lost callback failed for %r", lease)


def _current(entry: tuple[float, int, Lease]) -> bool:
    """Whether a heap entry is its lease's live one."""
    return entry[2].active and entry[1] == entry[2].entry


_scheduler: Scheduler | None = None
_scheduler_lock = threading.Lock()


def scheduler() -> Scheduler:
    """The renewal scheduler of this process (created on first use)."""
    global _scheduler
    found = _scheduler
    if found is None:
        with _scheduler_lock:
            if _scheduler is None:
                _scheduler = Scheduler()
            found = _scheduler
    return found


def _after_fork_in_child() -> None:
    global _scheduler, _scheduler_lock, _token
    _scheduler = None
    _scheduler_lock = threading.Lock()
    _token = uuid.uuid4().hex[:16]


if hasattr(os, "register_at_fork"):  # not on Windows, where nothing forks
    os.register_at_fork(after_in_child=_after_fork_in_child)
