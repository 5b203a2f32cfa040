"""The producer side of a queue: put, sizes, ``task_done``/``join``/``shutdown``.

A part of :class:`hotsync.queue._QueueBase` (see :mod:`hotsync._queue_util`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from . import _keys
from ._ops import MAX_BLOCK, Batch, Cmd, Deadline, Eval, Guard, Ops, block_arg
from ._queue_util import _check_delay, _check_timeout
from ._renewal import process_token
from ._replies import raise_errors
from ._scripts import script
from .exceptions import Full, OutcomeUnknownError, ShutDown

__all__: list[str] = []

_PUT = script("queue_put")
_PUT_PLAIN = script("queue_put_plain")
_ZPUT = script("queue_zput")
_TASK_DONE = script("queue_task_done")
_JOIN = script("queue_join")
_SHUTDOWN = script("queue_shutdown")


class _Putting:
    """Put, sizes, task_done, join and shutdown of :class:`hotsync.queue._QueueBase`."""

    def _producer(self) -> list[Any]:
        """The calling thread's producer: [retry-guard key, request number of its next put,
        monotonic time the guard's TTL was last renewed, process token (new after a fork)]."""
        tid = threading.get_ident()
        p = self._producers.get(tid)
        token = process_token()
        if p is None or p[3] != token:
            key = _keys.aux(self._main, f"p:{token}:{self._token}:{tid:x}")
            p = self._producers[tid] = [key, 0, -1e18, token]
        p[1] += 1
        return p

    def _guard_arg(self, p: list[Any]) -> str:
        """The guard argument of a put: its TTL, renewed ('+') when half of it may be gone."""
        if time.monotonic() - p[2] > self._guard_ms / 2000:
            return f"+{self._guard_ms}"
        return str(self._guard_ms)

    # -- put ----------------------------------------------------------------

    def _put_call(self, argv: list[Any], req: str, garg: str, guard: str, wait_ms: int, putter: str, delay_ms: int,
                  strict: str = "0") -> Eval:
        """The put script call; *req*, *garg*: the request and guard arguments ('' for
        none; see lua/lib/request.lua), *guard*: the producer's guard key; *strict*: '1'
        full or shut down is an error reply, '2' only check (transactions)."""
        idem = req.startswith("?")
        if self._zset:
            keys = (self._main, self._meta, self._delayed, guard, self._putters, self._waiters, self._ready,
                    self._attempts, self._getters)
            head = (req, garg, self._bounded, wait_ms, putter, delay_ms, strict, self._mode)
            return Eval(_ZPUT, keys, (*head, *argv), idempotent=idem)
        if not (self._bounded or delay_ms or wait_ms or strict != "0"):
            return Eval(_PUT_PLAIN, (self._main, self._meta, guard), (req, garg, *argv), idempotent=idem)
        keys = (self._main, self._meta, guard, self._delayed, self._putters, self._getters)
        head = (req, garg, self._bounded, wait_ms, putter, delay_ms, strict)
        return Eval(_PUT, keys, (*head, *argv), idempotent=idem)

    def _put_ops(self, argv: list[Any], block: bool, timeout: float | None, delay_ms: int,
                 p: list[Any] | None = None) -> Ops:
        """Put until added, full (Full) or shut down; *p*: a producer whose put's reply was lost."""
        req = "?" + str(p[1]) if p is not None else ""
        p = p or self._producer()
        req = req or str(p[1])
        putter = f"{p[0]}:{p[1]}"
        deadline = Deadline(timeout if block else 0.0)
        while True:
            wait_ms = int((deadline.block_for() + 1.0) * 1000) if block and self._bounded else 0
            garg, sent = self._guard_arg(p), time.monotonic()
            try:
                reply = yield self._put_call(argv, req, garg, p[0], wait_ms, putter, delay_ms)
            except OutcomeUnknownError:
                # sent, reply lost: ask again with the retry guard checked ("?"), safe to repeat
                req = req if req.startswith("?") else "?" + req
                continue
            code = int(reply)
            if code >= -1:  # added (n), or applied by the attempt whose reply was lost (-1)
                if garg[0] == "+":
                    p[2] = sent
                return code
            if code == -2:
                raise ShutDown(f"queue {self.key!r} is shut down")
            if not block or deadline.expired():
                raise Full
            wait = deadline.block_for()
            yield Cmd(("BLPOP", self._space, block_arg(wait)), block=wait)

    def _put_items(self, items: list[Any], block: bool, timeout: float | None, delay: float) -> int:
        delay_ms = 0 if type(delay) is int and delay == 0 else _check_delay(delay)
        argv = self._encode(items)  # bad values fail here, before any write
        if not self._bounded:
            timeout = None  # never waits: the timeout is not looked at, as queue.Queue ignores it
        elif len(items) > self._bounded:
            # a set queue stores a member once, however often the batch names it
            distinct = len(set(argv)) if self._unique else len(items)
            if distinct > self._bounded:
                raise ValueError(f"cannot put {distinct} items into a queue of maxsize {self.maxsize}")
        client = self._client
        if client.in_transaction():
            # all or nothing: the transaction checks, under WATCH, that the queue takes
            # every item its puts of this queue bring, before its MULTI (see Guard)
            def check(merged: list[Any]) -> Eval:
                return self._put_call(merged, "", "", self._meta, 0, "", delay_ms, "2")

            watch = (self._main, self._meta, self._delayed) if self._bounded else (self._meta,)
            guard = Guard(("queue put", self._main), watch, check, tuple(argv))
            client.write(replace(self._put_call(argv, "", "", self._meta, 0, "", delay_ms, "1"), guard=guard))
            self._m["put"].inc(len(items))
            return len(items)
        if self._bounded or delay_ms or self._zset:
            added = client.drive(self._put_ops(argv, block, timeout, delay_ms))
        else:  # the plain put: one script call, no generator
            p = self._producer()
            garg, sent = self._guard_arg(p), time.monotonic()
            try:
                added = int(client.run_script(_PUT_PLAIN, (self._main, self._meta, p[0]), (str(p[1]), garg, *argv),
                                              idempotent=False))
            except OutcomeUnknownError:
                added = client.drive(self._put_ops(argv, block, timeout, 0, p))
            else:
                if added == -2:
                    raise ShutDown(f"queue {self.key!r} is shut down")
                if garg[0] == "+":
                    p[2] = sent
        self._m["put"].inc(len(items))
        return len(items) if added < 0 else added

    def put(self, item: Any, block: bool = True, timeout: float | None = None, *, delay: float = 0) -> None:
        """Put *item* into the queue.

        If *block* is true and *timeout* is None (the default), block if necessary
        until a free slot is available.  If *timeout* is a positive number, block at
        most *timeout* seconds and raise :class:`~hotsync.Full` if no free slot was
        available within that time.  Otherwise (*block* is false), put the item if a
        slot is free at once, else raise ``Full`` (*timeout* is then ignored).
        A full queue's putter waits in Redis for a "space" wake-up pushed by the
        get that frees a slot; there is no polling.

        *delay* (seconds, keyword-only): the item can be got only after that long
        (server time).  It counts toward ``qsize()`` and ``maxsize`` meanwhile.
        A waiting getter takes it once it is due; a getter busy with other items
        may take those first, for up to a second after it is due (a ``get``
        looks at the delayed items at least once a second, ``get_many`` every
        time).

        Raises ShutDown after ``shutdown()`` (also for putters blocked at that
        moment).  Inside ``transaction()`` the put is queued and applied at the
        block's end, all or nothing: a queue that is full (for all the items the
        block puts into it) or shut down makes the whole block raise
        :class:`~hotsync.exceptions.TransactionError` with nothing written, its
        other writes included; the block does not wait for space.
        Retrying after a lost reply never puts twice (a per-producer request
        number is checked by the script).
        """
        if self._bounded and block and timeout is not None:
            self._check_timeout_shut_first(timeout, taking=False)
        self._put_items([item], block, timeout, delay)

    def put_nowait(self, item: Any) -> None:
        """Put *item* only if a free slot is available at once; else raise ``Full``."""
        self.put(item, block=False)

    def put_many(self, items: Iterable[Any], block: bool = True, timeout: float | None = None, *,
                 delay: float = 0) -> int:
        """Put all *items* atomically in one round trip (all or nothing).

        On a bounded queue, wait (as ``put``) until there is room for all of them;
        more items than ``maxsize`` raise ValueError.  Set queues skip members that
        are already waiting.  Returns the number of items added.
        """
        items = list(items)
        if self._bounded and block and timeout is not None:
            self._check_timeout_shut_first(timeout, taking=False)
        if not items:
            return 0
        return self._put_items(items, block, timeout, delay)

    def _check_timeout_shut_first(self, timeout: Any, taking: bool) -> None:
        """The stdlib's timeout check (ValueError, or TypeError for a non-number), made
        where Python 3.13's queue makes it: after its shutdown check.  So a bad *timeout*
        on a shut-down queue (for a take: shut down with nothing waiting) raises
        ShutDown, as 3.13 does.  The state is read only for a bad timeout: a good one
        costs nothing."""
        try:
            _check_timeout(timeout)
        except (TypeError, ValueError):
            if self._client.read(Cmd(("HGET", self._meta, "shutdown"))) and not (taking and self.qsize()):
                raise ShutDown(f"queue {self.key!r} is shut down" + (" and empty" if taking else "")) from None
            raise

    # -- size, task_done, join, shutdown -------------------------------------------------

    def qsize(self) -> int:
        """Return the approximate size of the queue: another host may change it before you act.

        Counts the items waiting to be got, delayed ones included; not the
        reserved (in-flight) ones.
        """
        if self._zset:
            replies = raise_errors(self._client.read(Batch((Cmd(("ZCARD", self._main)), Cmd(("ZCARD", self._delayed))))))
            return int(replies[0]) + int(replies[1])
        replies = raise_errors(self._client.read(Batch((
            Cmd(("LLEN", self._main)),
            Cmd(("LPOS", self._main, "", "RANK", -1, "COUNT", 0, "MAXLEN", 1000)),  # wake markers at either end
            Cmd(("LPOS", self._main, "", "COUNT", 0, "MAXLEN", 1000)),
            Cmd(("ZCARD", self._delayed)),
        ))))
        markers = {int(i) for i in replies[1] or ()} | {int(i) for i in replies[2] or ()}
        return int(replies[0]) - len(markers) + int(replies[3])

    def empty(self) -> bool:
        """Return True if the queue is empty, False otherwise (approximate, as ``qsize``)."""
        return not self.qsize()

    def full(self) -> bool:
        """Return True if the queue is full, False otherwise (approximate, as ``qsize``)."""
        return 0 < self.maxsize <= self.qsize()

    def task_done(self) -> None:
        """Indicate that a formerly enqueued task is complete (on any host).

        Each ``get()`` should be followed by one ``task_done()`` when the item's
        work is done; ``msg.ack()`` does it for reserved messages.  When the count
        of unfinished tasks, kept in Redis for every object on the key, reaches
        zero, every ``join()`` returns.

        Raises ValueError if called more times than there were items put.
        """
        reply = self._client.perform(Eval(_TASK_DONE, (self._meta, self._joiners, self._joined), (1,),
                                          idempotent=False))
        if int(reply) < 0:
            raise ValueError("task_done() called too many times")

    def join(self) -> None:
        """Block until every item put into the queue (by any host) has been processed.

        Waits in Redis for the wake-up pushed by the ``task_done()`` (or ack) that
        brings the unfinished count to zero; no polling.
        """
        self._client.drive(self._join_ops())

    def _join_ops(self) -> Ops:
        joiner = f"{process_token()}:{uuid.uuid4().hex[:8]}"
        while True:
            left = yield Eval(_JOIN, (self._meta, self._joiners), (joiner, int((MAX_BLOCK + 1) * 1000)))
            if int(left) == 0:
                return
            yield Cmd(("BLPOP", self._joined, block_arg(MAX_BLOCK)), block=MAX_BLOCK)

    def unfinished_tasks(self) -> int:
        """Number of items put and not yet marked done (``task_done`` / ack), on all hosts."""
        return int(self._client.read(Cmd(("HGET", self._meta, "unfinished"))) or 0)

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down for every object on its key (Python 3.13 semantics).

        Further ``put()`` calls raise ShutDown; ``get()`` keeps returning the items
        still waiting and raises ShutDown once the queue is empty.  Blocked putters
        and getters (on any host) wake up.  With *immediate*, the waiting items are
        dropped, each counting as a task done, so ``join()`` returns once the
        items already taken are done.  Reserved messages can still be acked or
        nacked; after an immediate shutdown a nacked one (or one whose consumer's
        lease ran out) is dropped as the waiting items were, counting as a task
        done, and ``replay_dead()`` moves nothing, so the queue stays empty and
        ``get()`` keeps raising ShutDown.  Shutdown is permanent for the key.
        """
        keys = (self._main, self._meta, self._delayed, self._getters, self._ready, self._joiners, self._joined,
                self._putters, self._space, self._waiters)
        layout = "zset" if self._zset else ("lifo" if self._lifo else "fifo")
        self._client.write(Eval(_SHUTDOWN, keys, ("1" if immediate else "0", layout)))
        self._calm_until = 0.0
