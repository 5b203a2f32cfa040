"""The fair line shared by ``Lock(fair=True)`` and ``Semaphore(fair=True)``.

Both keep a FIFO line (zset waiter -> arrival number) whose places are leased
tickets (zset waiter -> ticket deadline), and wake a waiter by pushing its own
wake-up list, ``<wait prefix><waiter id>``.  Releases push those lists inside
their scripts; the two helpers here are for the paths that learn whom to wake
from a script's reply (a waiter leaving the line, a ticket renewal that finds
the lock or a permit free, a forced release).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._ops import Batch, Cmd, Eval
from ._renewal import Lease, scheduler

__all__ = ["wake", "start_ticket"]


def _name(waiter: bytes | str) -> str:
    return waiter.decode() if isinstance(waiter, bytes) else str(waiter)


def wake(prefix: str, waiters: Iterable[bytes | str], ttl_ms: int) -> Batch:
    """One round trip that pushes each waiter's wake-up list (kept ``ttl_ms``)."""
    calls: list[Cmd] = []
    for w in waiters:
        key = prefix + _name(w)
        calls += [Cmd(("LPUSH", key, "1")), Cmd(("PEXPIRE", key, ttl_ms))]
    return Batch(tuple(calls))


def start_ticket(
    client: Any, ticket: Eval, ttl: float, sent: float, prefix: str, wake_ms: int, *, waiter: str, kind: str,
    name: str,
) -> Lease:
    """Keep a waiter's place in line alive while it waits.

    ``ticket`` is the renewal script call; its reply is ``{0}`` (no longer in line)
    or ``{1, waiter...}`` (renewed; the waiters listed are woken, the way a line
    whose head died moves on without anyone releasing).  Woken lists are kept
    ``wake_ms``.  A lost ticket only costs the place in line: ``waiter`` (blocked
    on its own wake-up list, where nobody would push now) is woken, so that its
    next acquire round joins again, and starts a new ticket (the caller checks
    ``lease.active``).  A waiter whose call stopped waiting cancels its ticket,
    which then pushes its list no more.  Not when Redis is unreachable: the push
    could not land, and retrying it here would hold up the renewal thread (and
    every other lease's loss report) for the retry budget.
    """

    def check(reply: Any) -> bool:
        if reply[0] == 1 and len(reply) > 1:
            # not the waiter itself once its call stopped waiting (it cancels the ticket
            # then): nobody would pop that push
            heads = [w for w in reply[1:] if lease.active or _name(w) != waiter]
            if heads:
                client.perform(wake(prefix, heads, wake_ms))
        return reply[0] == 1

    def lapsed(reason: str) -> None:
        if reason == "expired":
            client.perform(wake(prefix, (waiter,), wake_ms))

    lease = Lease(client, ticket, ttl, sent, lapsed, check=check, kind=kind, name=name)
    scheduler().add(lease)
    return lease
