"""The getter side of a queue: ``get``, and the wait loop every take (``reserve`` too) runs.

A part of :class:`hotsync.queue._QueueBase` (see :mod:`hotsync._queue_util`).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from redis.exceptions import NoScriptError

from ._message import Message
from ._ops import Batch, Cmd, Deadline, Eval, Ops, block_arg
from ._queue_util import _CALM, _HEARTBEAT, _Consumer
from ._renewal import process_token
from ._scripts import script
from .exceptions import Empty, OutcomeUnknownError, ShutDown

__all__: list[str] = []

_PRE = script("queue_pre")
_POP = script("queue_pop")
_SPACE = script("queue_space")
_ZPOP = script("queue_zpop")
_ZPRE = script("queue_zpre")


class _Taking:
    """Get and the take loop of :class:`hotsync.queue._QueueBase`."""

    # -- get and reserve ----------------------------------------------------------

    def _pop_call(self, n: int, consumer: _Consumer | None, wait_ms: int, waiter: str) -> Eval:
        cid = consumer.id if consumer else ""
        if self._zset:
            keys = (self._main, self._meta, self._delayed, self._waiters, self._putters, self._space,
                    self._consumers_key, consumer.inflight if consumer else self._meta, self._attempts)
            args = (n, waiter, wait_ms, cid, self._lease_ms, self._mode, self._bounded)
            return Eval(_ZPOP, keys, args, idempotent=False)
        keys = (self._main, self._meta, self._delayed, self._putters, self._space, self._consumers_key,
                consumer.inflight if consumer else self._meta)
        return Eval(_POP, keys, (n, "1" if self._lifo else "0", self._bounded, cid, self._lease_ms), idempotent=False)

    def _getter(self) -> tuple[int, str, bool]:
        """(thread id, getter id, whether its registration must be renewed now)."""
        tid = threading.get_ident()
        found = self._getter_ids.get(tid)
        if found is not None and time.monotonic() < found[1]:
            return tid, found[0], False
        return tid, (found[0] if found else f"{process_token()}:{self._token}:{tid:x}"), True

    def _pre_call(self, bound: float, consumer: _Consumer | None, cid: str, drop: bool, gid: str) -> Cmd:
        if self._zset:
            return Eval(_ZPRE, (self._main, self._meta, self._delayed, self._getters, self._ready, self._attempts),
                        (int(bound * 1000), self._mode, gid)).by_sha()
        return Eval(_PRE, (self._main, self._meta, self._delayed, self._getters, self._consumers_key,
                           consumer.inflight if consumer else self._meta),
                    (int(bound * 1000), cid, self._lease_ms, "1" if drop else "0", gid)).by_sha()

    def _space_call(self) -> Eval:
        return Eval(_SPACE, (self._main, self._delayed, self._putters, self._space),
                    (self._bounded, "1" if self._zset else "0"))

    def _take_ops(self, n: int, block: bool, timeout: float | None, consumer: _Consumer | None,
                  ack: Message | None = None) -> Ops:
        """Take 1..n waiting items (or reserve one); the one loop of every get.

        A blocking take pops natively (BRPOP/BLPOP/BLMOVE on lists, BZPOPMIN on
        zsets) in one pipeline after the prepare script (queue_pre / queue_zpre),
        which promotes due delayed items, registers the caller and reports a
        shutdown.  On the fast path (a take of one item, and the last prepare,
        less than ``_CALM`` s ago, found nothing delayed and no shutdown) the
        native pop goes alone, for at most what is left of that second.

        A reserve's BLMOVE fills the consumer's in-flight list, which only the
        reaper gives back, and only for a consumer in ``{K}:consumers``: a message
        must never land there after the consumer was taken out (reaped after a
        stall, or during a wait longer than its lease).  So a reserve's BLMOVE never
        blocks past the moment its registration is known to last: alone (fast
        path) only while the last registration (prepare, or heartbeat: send time +
        lease) outlasts the whole wait by a margin; otherwise behind a prepare,
        which registers it afresh, with the wait capped at half the lease.  A
        ``ZADD consumers NX 0`` goes first in that pipeline, so that even a prepare
        that meets NOSCRIPT leaves the consumer findable by the reaper (score 0: a
        dead process is reaped at once; a live one may see a redelivery).
        Non-blocking takes and zset reserves run the pop scripts.  ``ack``: a message to ack first, in the same round trip
        when the pop is native.
        """
        deadline = Deadline(timeout if block else 0.0)
        native = consumer is None or not self._zset
        waiter = ""
        drop = False
        while True:
            bound = deadline.block_for(self._due_left()) if block else 0.0
            if not native or bound < 0.001:
                if ack is not None:
                    self._finish(ack, "ack", (yield self._ack_call(ack)))
                    ack = None
                wait_ms = int(bound * 1000) + 1 if block and bound >= 0.001 else 0
                waiter = waiter or f"{process_token()}:{uuid.uuid4().hex[:8]}"
                try:
                    reply = yield self._pop_call(n, consumer, wait_ms, waiter)
                except OutcomeUnknownError:
                    if consumer is None:
                        raise
                    found = yield from self._recover(consumer)
                    if found:
                        return found
                    continue
                if int(reply[0]) == 1:
                    return list(reply[1:])
                self._note_due(reply[2])
                if int(reply[1]):
                    raise ShutDown(f"queue {self.key!r} is shut down and empty")
                if not block or deadline.expired():
                    raise Empty
                bound = deadline.block_for(self._due_left())
                if wait_ms and not native and bound >= 0.001:
                    # a zset reserve the pop script registered as a waiter: a put wakes
                    # it through {K}:ready.  Anyone else (a pop that did not register:
                    # its bound was a due time now past, which the pop has refreshed)
                    # goes round, to a pop that waits where puts will wake it.
                    yield Cmd(("BZPOPMIN", self._ready, block_arg(bound)), block=bound)
                continue
            # native: [ack] [prepare] pop [wake putters], one pipeline
            tid, gid, register_getter = self._getter()
            now = time.monotonic()
            calm_left = self._calm_until - now
            register_consumer = False
            if consumer is not None:
                # the wait must end while the registration certainly lasts (see above)
                reg_left = consumer.registered_for(now) - max(self.lease / 10, 0.05)
                register_consumer = consumer.until <= 0.0 or reg_left < 0.05
                if not register_consumer:
                    calm_left = min(calm_left, reg_left)
            # a batch always runs the prepare: it takes the delayed items that came due
            # while this getter trusted its last look (a single get takes them next time)
            fast = n == 1 and calm_left >= 0.05 and not (register_getter or register_consumer or drop)
            if fast:
                bound = min(bound, calm_left)
            elif consumer is not None:
                # a fresh registration lasts a lease: it outlives a wait of half of it
                bound = min(bound, self.lease / 2 if register_consumer else min(self.lease / 2, reg_left))
            secs = block_arg(bound)
            calls: list[Any] = []
            if consumer is not None and not fast:  # findable even if the prepare meets NOSCRIPT
                calls.append(Cmd(("ZADD", self._consumers_key, "NX", 0, consumer.id)))
            if not fast:
                calls.append(self._pre_call(bound, consumer, consumer.id if register_consumer else "", drop,  # type: ignore[union-attr]
                                            gid if register_getter else ""))
            if consumer is not None:
                calls.append(Cmd(("BLMOVE", self._main, consumer.inflight, "LEFT" if self._lifo else "RIGHT", "LEFT",
                                  secs)))
            elif self._zset:
                calls.append(Cmd(("BZPOPMIN", self._main, self._ready, secs)))
                if n > 1:
                    calls.append(Cmd(("ZPOPMIN", self._main, n - 1)))
            else:
                calls.append(Cmd(("BLPOP" if self._lifo else "BRPOP", self._main, secs)))
                if n > 1:
                    calls.append(Cmd(("LPOP" if self._lifo else "RPOP", self._main, n - 1)))
            if self._bounded:
                space = self._space_call()
                calls.append(space.by_sha())
            acking, ack = ack, None
            if acking is not None:
                calls.insert(0, self._ack_cmd(acking))
            try:
                if len(calls) == 1:  # the fast path: the native pop alone
                    replies = [(yield Cmd(calls[0].args, idempotent=False, block=bound))]
                else:
                    replies = yield Batch(tuple(calls), idempotent=False, block=bound)
            except OutcomeUnknownError:
                self._calm_until = 0.0
                if consumer is None:
                    raise
                if acking is not None:  # ack is idempotent: make sure it happened
                    self._finish(acking, "ack", (yield self._ack_call(acking)) or 1)
                # the guard (score 0) or the prepare registered us; renew it to a full lease
                yield Eval(_HEARTBEAT, (self._consumers_key,), (consumer.id, self._lease_ms))
                found = yield from self._recover(consumer)
                if found:
                    return found
                continue
            if acking is not None:
                reply = replies.pop(0)
                if isinstance(reply, NoScriptError):
                    reply = yield self._ack_call(acking)
                elif isinstance(reply, Exception):
                    raise reply
                self._finish(acking, "ack", reply)
            if consumer is not None and not fast:
                guard = replies.pop(0)
                if isinstance(guard, Exception):
                    raise guard
            shut, left = 0, -1
            if not fast:
                pre = replies.pop(0)
                if isinstance(pre, NoScriptError):
                    # the server lost its script cache (restart, failover): nothing was prepared
                    yield Cmd(("SCRIPT", "LOAD", (_ZPRE if self._zset else _PRE).body))
                    if register_consumer:
                        yield Eval(_HEARTBEAT, (self._consumers_key,), (consumer.id, self._lease_ms))  # type: ignore[union-attr]
                    self._calm_until = 0.0
                elif isinstance(pre, Exception):
                    raise pre
                else:
                    shut, due, left = int(pre[0]), int(pre[1]), int(pre[2])
                    self._note_due(due)
                    if register_consumer:
                        consumer.until = now + self.lease  # type: ignore[union-attr]
                    if register_getter:
                        self._getter_ids[tid] = (gid, now + 20.0)
                    self._calm_until = now + _CALM if not shut and due < 0 else 0.0
            if self._bounded:
                woken = replies.pop()
                if isinstance(woken, NoScriptError):
                    yield self._space_call()
                elif isinstance(woken, Exception):
                    raise woken
            for r in replies:
                if isinstance(r, Exception):
                    raise r
            got = replies[0]
            woke = False
            if consumer is not None:
                if got:
                    return [got]
                woke = drop = got is not None  # a wake marker moved into our in-flight list
            else:
                rest = list(replies[1] or ()) if n > 1 else []
                if self._zset:
                    value = None
                    if got is not None:
                        if got[0] == self._main_b:
                            value = got[1]
                        else:
                            woke = True  # a wake-up from {K}:ready
                    members = [r[0] for r in rest] if rest and isinstance(rest[0], list) else rest[0::2]  # RESP3 / 2
                    items = ([value] if value is not None else []) + members
                else:
                    value = None if got is None else got[1]
                    woke = value == b""
                    items = ([value] if value else []) + [i for i in rest if i]
                    stolen = sum(1 for i in rest if not i)
                    if stolen:  # wake markers meant for other waiters: give them back
                        yield Cmd(("RPUSH", self._main, *([""] * stolen)))
                if items:
                    return items
            if woke:
                self._calm_until = 0.0
            if shut:
                if left > 0:
                    continue  # a marker stood before waiting items: go round
                if woke:  # the marker (wake-up) may be another getter's: give it back
                    if self._zset:
                        yield Batch((Cmd(("ZADD", self._ready, 0, "w1")), Cmd(("PEXPIRE", self._ready, 60000))))
                    elif consumer is not None:
                        yield Batch((Cmd(("LREM", consumer.inflight, 0, "")), Cmd(("RPUSH", self._main, ""))),
                                    transaction=True)
                    else:
                        yield Cmd(("RPUSH", self._main, ""))
                raise ShutDown(f"queue {self.key!r} is shut down and empty")
            if got is None and deadline.expired():
                block = False  # the wait is over: one last non-blocking look, then Empty

    def _recover(self, consumer: _Consumer) -> Ops:
        """After a lost reply of a reserve: adopt what was moved into our in-flight list.

        What the consumer knows it holds is noted *before* the list is read.  Another
        thread may ack or nack one of its messages meanwhile; such a message leaves
        ``held`` only after it left the list in Redis, so a message the list still
        shows was in ``held`` when noted.  Compared with ``held`` read after the list,
        it could look unknown and be handed out a second time (its ack then False).
        """
        with consumer.lock:
            known = consumer.held | set(consumer.orphans)
        entries = yield Cmd(("LRANGE", consumer.inflight, 0, -1))
        with consumer.lock:
            orphans = [e for e in entries or () if e and e not in known]
            consumer.orphans.extend(orphans[1:])
        return orphans[:1]

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return an item from the queue.

        If *block* is true and *timeout* is None (the default), block if necessary
        until an item is available.  If *timeout* is a positive number, block at
        most *timeout* seconds and raise :class:`~hotsync.Empty` if no item was
        available within that time.  Otherwise (*block* is false), return an item
        if one is immediately available, else raise ``Empty``.

        The wait happens in Redis (a native blocking pop on the queue's key, in the
        same round trip as the bookkeeping), bounded by the due time of the next
        delayed item.  After ``shutdown()`` an empty queue raises ShutDown (also in
        getters blocked at that moment).  Delivery is at-most-once: a reply lost
        with the connection raises ``OutcomeUnknownError`` and the item may be
        gone; use :meth:`reserve` for at-least-once.
        """
        if block and timeout is not None:
            self._check_timeout_shut_first(timeout, taking=True)
        raw = self._client.drive(self._take_ops(1, block, timeout, None))
        self._m["get"].inc()
        return self._decode(raw[0])

    def get_nowait(self) -> Any:
        """Remove and return an item if one is immediately available, else raise ``Empty``."""
        return self.get(block=False)

    def get_many(self, n: int, block: bool = True, timeout: float | None = None) -> list[Any]:
        """Remove and return up to *n* items (at least one) in one round trip.

        Waits like :meth:`get` for the first item; returns what is there then,
        delayed items that have come due included (they are moved into the queue
        first, in the same round trip).
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if n < 1:
            raise ValueError("n must be >= 1")
        if block and timeout is not None:
            self._check_timeout_shut_first(timeout, taking=True)
        raw = self._client.drive(self._take_ops(n, block, timeout, None))
        self._m["get"].inc(len(raw))
        return self._decode_many(raw)
