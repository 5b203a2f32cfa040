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
scheduler thread and must be short.  While leases live on more than one server
(several clients, or cluster nodes), each server's group is renewed on a
short-lived helper thread, so that a server that stalls holds up only its own
leases; the callbacks of that group then run on its helper.

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

    __slots__ = ("client", "renew", "ttl", "period", "deadline", "due", "active", "on_lost", "check", "kind", "name")

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

    def __repr__(self) -> str:
        return f"<Lease {self.kind} {self.name!r} active={self.active}>"


def _reply_is_one(reply: Any) -> bool:
    return reply == 1


class Scheduler:
    """The renewal thread of this process.  Use :func:`scheduler` to get it."""

    def __init__(self) -> None:
        self._cv = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Lease]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        # when the sleeping thread wakes next (-inf while it is busy): an add due
        # later needs no wake-up, so short holds cost no thread switch
        self._wake_at = math.inf
        self._inflight: set[tuple[int, int]] = set()  # groups being renewed on helper threads

    def add(self, lease: Lease) -> None:
        """Start renewing ``lease``."""
        with self._cv:
            heapq.heappush(self._heap, (lease.due, next(self._seq), lease))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hotsync-renewal", daemon=True)
                self._thread.start()
            if lease.due < self._wake_at:
                self._wake_at = lease.due
                self._cv.notify()

    def cancel(self, lease: Lease) -> None:
        """Stop renewing ``lease`` (it is dropped lazily from the heap)."""
        lease.active = False

    def pending(self) -> int:
        """Number of active leases (for tests and inspection)."""
        with self._cv:
            return sum(1 for _, _, lease in self._heap if lease.active)

    def _run(self) -> None:
        while True:
            with self._cv:
                while True:
                    now = time.monotonic()
                    dropped = None
                    while self._heap and not self._heap[0][2].active:
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
                due: list[Lease] = []
                while self._heap and self._heap[0][0] <= now:
                    lease = heapq.heappop(self._heap)[2]
                    if lease.active:
                        due.append(lease)
            try:
                self._renew(due)
            except Exception:  # pragma: no cover - never let the thread die
                log.exception("hotsync renewal round failed")
                with self._cv:
                    for lease in due:
                        if lease.active:
                            lease.due = time.monotonic() + 0.1
                            heapq.heappush(self._heap, (lease.due, next(self._seq), lease))

    def _renew(self, due: list[Lease]) -> None:
        groups: dict[tuple[int, int], list[Lease]] = {}
        for lease in due:
            groups.setdefault(self._group(lease), []).append(lease)
        lost: list[tuple[Lease, str]] = []
        first = due[0].client if due else None
        with self._cv:
            alone = (
                len(groups) == 1
                and not self._inflight
                and first is not None
                and not first._cluster
                and all(lease.client is first for _, _, lease in self._heap if lease.active)
            )
        if alone:  # every lease of the process is on this one server: nobody else to hold up
            lost.extend(self._renew_group(due))
        else:
            # leases on several servers (clients, cluster nodes): one that stalls must not
            # hold up the renewal of the others (their leases would run out there,
            # unreported), so each group waits for its server on a helper thread
            for group, leases in groups.items():
                with self._cv:
                    self._inflight.add(group)
                try:
                    threading.Thread(
                        target=self._renew_apart, args=(group, leases), name="hotsync-renewal-group", daemon=True
                    ).start()
                except BaseException:
                    with self._cv:
                        self._inflight.discard(group)
                    raise
        for lease, reason in lost:
            self._lose(lease, reason)

    @staticmethod
    def _group(lease: Lease) -> tuple[int, int]:
        client = lease.client
        node = client._pool_for(lease.renew.keys[0]) if client._cluster else None
        return id(client), id(node)

    def _renew_apart(self, group: tuple[int, int], leases: list[Lease]) -> None:
        """Renew one group on a helper thread (see :meth:`_renew`)."""
        try:
            lost = self._renew_group(leases)
        except Exception:  # pragma: no cover - never lose track of a lease
            log.exception("hotsync renewal round failed")
            lost = []
            with self._cv:
                for lease in leases:
                    if lease.active:
                        lease.due = time.monotonic() + 0.1
                        self._push(lease)
        finally:
            with self._cv:
                self._inflight.discard(group)
        for lease, reason in lost:
            self._lose(lease, reason)

    def _push(self, lease: Lease) -> None:
        """Put ``lease`` back in the heap; wake the thread if it is due sooner.  Holds _cv."""
        heapq.heappush(self._heap, (lease.due, next(self._seq), lease))
        if lease.due < self._wake_at:
            self._wake_at = lease.due
            self._cv.notify()

    def _renew_group(self, leases: list[Lease]) -> list[tuple[Lease, str]]:
        client = leases[0].client
        sent = time.monotonic()
        wait = max(min(lease.deadline for lease in leases) - sent, 0.05)
        commands = [
            ("EVALSHA", ls.renew.script.sha, len(ls.renew.keys), *ls.renew.keys, *ls.renew.args) for ls in leases
        ]
        lost: list[tuple[Lease, str]] = []
        try:
            replies = client.execute_many(commands, key=leases[0].renew.keys[0], timeout=wait)
        except Exception as exc:  # noqa: BLE001 - connection trouble: try again soon
            replies = [exc] * len(leases)
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
                lease.deadline = sent + lease.ttl
                lease.due = sent + lease.period
            else:
                lost.append((lease, "expired"))
                continue
            with self._cv:
                self._push(lease)
        now = time.monotonic()
        with self._cv:
            for lease in retry_at:
                lease.due = now + min(0.25, max((lease.deadline - now) / 4, 0.01))
                self._push(lease)
        return lost

    def _lose(self, lease: Lease, reason: str) -> None:
        if not lease.active:
            return
        lease.active = False
        m = lease.client.metrics
        m.leases_lost.labels(lease.kind, m.name(lease.name), reason).inc()
        try:
            lease.on_lost(reason)
        except Exception:  # noqa: BLE001
            log.exception("hotsync on_lost callback failed for %r", lease)


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
