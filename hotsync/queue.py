"""Queues across processes and hosts: ``queue``'s API, plus reliable consumption.

One class, :class:`_QueueBase`, owns every blocking, timeout, ``task_done``/
``join`` and ``shutdown`` rule; the variants differ only by the structure and
scripts they use (as CPython's variants differ by four hooks):

==================  ======  ======================================================
class               ``K``   order
==================  ======  ======================================================
Queue               list    FIFO: LPUSH, pop right (native BRPOP / BLMOVE)
LifoQueue           list    LIFO: LPUSH, pop left (native BLPOP / BLMOVE)
PriorityQueue       zset    lowest priority first, FIFO among equal priorities
SetQueue            zset    FIFO, unique members (insert-if-absent)
LifoSetQueue        zset    LIFO, unique members
==================  ======  ======================================================

Keys (``K`` is the main key; every other key shares its cluster slot):

=========================  ======  ==================================================
key                        type    contents / lifetime
=========================  ======  ==================================================
``K``                      list /  waiting items.  Lists hold envelopes
                           zset    ``enqueued|id|deliveries|payload`` (``enqueued``:
                                   server ms when the item was put, or its due time
                                   for a delayed put; kept by redeliveries, restarted
                                   by a replay), and wake markers (``''``) after a
                                   delayed put or a shutdown, until getters pop them.
                                   PriorityQueue members ``stamp|deliveries|prio|payload``
                                   scored by priority (``stamp``: 14 hex digits, the
                                   message id); set queues: the payload scored by
                                   ``stamp`` (FIFO) or ``-stamp`` (LIFO).  A stamp is
                                   ``max(server ms * 1024, last stamp + 1)``: unique,
                                   increasing, and ``stamp // 1024`` is the enqueue
                                   time (ms).
``{K}:meta``               hash    ``kind``, ``maxsize``, ``max_attempts``,
                                   ``shutdown``, ``unfinished``, ``seq`` (last stamp).
                                   The one key an idle queue keeps (its configuration).
``{K}:delayed``            zset    items put with ``delay=`` -> due time (ms)
``{K}:getters``            zset    getters (one per thread of a queue object) ->
                                   registration expiry; told about delayed items and
                                   shutdown by wake-ups; TTL
``{K}:waiters``            zset    zset queues: blocked ``reserve()`` callers -> end of
                                   their wait; TTL
``{K}:ready``              zset    zset queues: wake-ups (``w1``, ``w2``...) for blocked
                                   getters and waiters; TTL
``{K}:putters``            zset    putters waiting for space (``id|items it puts``) ->
                                   deadline; TTL
``{K}:space``              list    wake-ups for putters; TTL
``{K}:joiners``            zset    ``join()`` waiters -> deadline; TTL
``{K}:joined``             list    wake-ups for ``join()`` waiters; TTL
``{K}:p:<producer>``       string  last put request of one producer (retry guard); TTL
``{K}:consumers``          zset    live reserving consumers -> heartbeat deadline.  A
                                   consumer id is ``host/pid/process/object/thread``.
                                   An idle consumer leaves at its next heartbeat or
                                   at interpreter exit; a dead one is reaped by any
                                   live consumer (no TTL: a TTL could drop the entry
                                   of a consumer whose messages are still in flight)
``{K}:inflight:<consumer>`` list   messages reserved by one consumer
``{K}:dead``               list    dead letters (envelopes), newest first
``{K}:attempts``           hash    set queues: member -> deliveries of the copy that
                                   waits, for redelivered members waiting again (a
                                   reserve moves the count into its envelope; dropped
                                   when nothing waits); ``deliveries|score`` while one
                                   nacked with a delay is delayed (it keeps its stamp,
                                   its id).  TTL a week, renewed while items wait
=========================  ======  ==================================================

Scripts: ``lua/queue_*.lua`` (list queues and shared steps) and
``lua/queue_z*.lua`` (zset queues); ``queue_stats`` reads the state for
:meth:`~Queue.statistics`.
"""

from __future__ import annotations

import atexit
import itertools
import math
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from . import _keys
from ._message import DeadLetter, Message
from ._ops import MAX_BLOCK, MAX_SECONDS, Batch, Cmd, Deadline, Eval, Guard, Ops
from ._pickling import rebuild
from ._renewal import Lease, process_token, scheduler
from ._replies import raise_errors
from ._scripts import script
from .client import HotClient, default_client
from .codecs import Codec, get_codec
from redis.exceptions import NoScriptError

from .exceptions import ConfigConflictError, Empty, Full, OutcomeUnknownError, ShutDown
from ._queue_stats import QueueStatistics, read_statistics

__all__ = ["Queue", "LifoQueue", "PriorityQueue", "SetQueue", "LifoSetQueue", "Message", "DeadLetter",
           "QueueStatistics"]

_INIT = script("queue_init")
_PUT = script("queue_put")
_PRE = script("queue_pre")
_POP = script("queue_pop")
_SPACE = script("queue_space")
_REQUEUE = script("queue_requeue")
_ACK = script("queue_ack")
_TASK_DONE = script("queue_task_done")
_JOIN = script("queue_join")
_HEARTBEAT = script("queue_heartbeat")
_SHUTDOWN = script("queue_shutdown")
_ZPUT = script("queue_zput")
_ZPOP = script("queue_zpop")
_ZREQUEUE = script("queue_zrequeue")
_ZPRE = script("queue_zpre")

_HOST = socket.gethostname().replace("/", "_")
_MAX_INT_PRIORITY = int(1.7e308)
_CHUNK = 1000

#: Queue objects with a consumer heartbeat: at interpreter exit their idle consumers
#: leave {K}:consumers (see _leave_at_exit); weak, so a dropped queue is not kept alive
_beating: weakref.WeakSet[Queue] = weakref.WeakSet()
#: Seconds the exit hook may spend leaving (Redis down: the exit does not wait the
#: retry budget out; the entries then end with their lease, reaped by other consumers)
_EXIT_BUDGET = 2.0
#: Seconds a getter trusts the last "nothing delayed, not shut down" answer of the
#: prepare script and pops natively without it (the fast path).  It bounds how late a
#: getter that was not told (see wake markers) notices a delayed item or a shutdown.
_CALM = 1.0
_STRAY_SCAN = 1000  # in-flight entries a busy consumer's heartbeat looks through for strays


def _seconds(value: float) -> str:
    """A blocking-command timeout: positive, millisecond resolution."""
    return f"{max(value, 0.001):.3f}"


def _evalsha(script: Any, keys: tuple[str, ...], args: tuple[Any, ...]) -> Cmd:
    """A script call for a pipeline, by SHA (a Batch would send the whole body)."""
    return Cmd(("EVALSHA", script.sha, len(keys), *keys, *args))


def _check_timeout(timeout: Any) -> None:
    """The stdlib's check, same comparison and message (TypeError for non-numbers)."""
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")


def _check_limit(limit: Any) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int or None, not {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")


def _check_delay(delay: Any) -> int:
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise TypeError(f"delay must be a number of seconds, not {type(delay).__name__}")
    if not (delay >= 0 and math.isfinite(delay)):
        raise ValueError(f"delay must be a non-negative, finite number of seconds, not {delay!r}")
    return int(math.ceil(delay * 1000))


@dataclass
class _Consumer:
    """One reserving thread of one queue object: its in-flight list and heartbeat."""

    id: str
    inflight: str
    token: str = field(default_factory=process_token)  # the process's (new after a fork)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: set[bytes] = field(default_factory=set)
    orphans: list[bytes] = field(default_factory=list)
    #: messages whose ack/nack raised (Redis unreachable past the retry budget): no
    #: longer held (an idle consumer gives its list back, so they are redelivered),
    #: settled again before its next reserve: entry -> (message, "ack"/"nack", delay ms)
    unsettled: dict[bytes, tuple[Any, str, int]] = field(default_factory=dict)
    reserving: int = 0
    #: monotonic time until which its entry in {K}:consumers certainly lasts (from the
    #: send time of the last prepare that registered it; 0: not registered by a prepare
    #: since it was last taken out; the heartbeat's own deadline counts too): a native
    #: BLMOVE that cannot end later may go without the prepare
    until: float = 0.0
    lease: Lease | None = None
    #: the heartbeat lease's deadline when it was made: only a later one was confirmed
    first_beat: float = 0.0

    def registered_for(self, now: float) -> float:
        """Seconds its registration certainly lasts from *now* (<= 0: unknown or over)."""
        hb = self.lease
        beat = hb.deadline if hb is not None and hb.active and hb.deadline > self.first_beat else 0.0
        return max(self.until, beat) - now


class _QueueBase:
    """Everything the queue variants share; a variant picks its structure and scripts."""

    _kind: ClassVar[str] = "queue"
    _layout: ClassVar[str] = "list"  # how queue_stats reads it (see _queue_stats.LAYOUTS)
    _zset: ClassVar[bool] = False
    _lifo: ClassVar[bool] = False
    _mode: ClassVar[str] = "fifo"

    def __init__(
        self,
        maxsize: int = 0,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        codec: str | Codec | None = None,
        lease: float = 30.0,
        max_attempts: int | None = None,
    ) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError(f"maxsize must be an int, not {type(maxsize).__name__}")
        if isinstance(lease, bool) or not isinstance(lease, (int, float)):
            raise TypeError(f"lease must be a number of seconds, not {type(lease).__name__}")
        if not (lease >= 0.05 and math.isfinite(lease)):
            raise ValueError(f"lease must be a finite number of seconds >= 0.05, not {lease!r}")
        if lease > MAX_SECONDS:
            raise ValueError(f"lease must be at most {MAX_SECONDS:.0e} seconds, not {lease!r}")
        if max_attempts is not None:
            if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
                raise TypeError(f"max_attempts must be an int or None, not {type(max_attempts).__name__}")
            if max_attempts < 1:
                raise ValueError(f"max_attempts must be >= 1, not {max_attempts}")
        self._client = client if client is not None else default_client()
        self.key, main = self._client.key_for(key, self._kind)
        self._main = main
        self.maxsize = maxsize
        self._bounded = max(maxsize, 0)
        self.lease = float(lease)
        self._lease_ms = int(lease * 1000)
        self._codec = self._client.codec if codec is None else get_codec(codec)
        self._token = uuid.uuid4().hex[:8]
        # message ids: (process, prefix, counter), made again in a forked child, whose
        # ids would otherwise repeat the parent's (and equal delayed envelopes merge)
        self._idgen = (process_token(), self._token, itertools.count(1))
        self._producers: dict[int, list[Any]] = {}
        self._consumers: dict[int, _Consumer] = {}
        self._due_at: float | None = None
        k = lambda s: _keys.aux(main, s)  # noqa: E731
        self._meta, self._delayed, self._waiters, self._ready = k("meta"), k("delayed"), k("waiters"), k("ready")
        self._putters, self._space, self._joiners, self._joined = k("putters"), k("space"), k("joiners"), k("joined")
        self._consumers_key, self._dead, self._attempts = k("consumers"), k("dead"), k("attempts")
        self._getters = k("getters")
        # per thread: (getter id, monotonic time until which its registration is trusted)
        self._getter_ids: dict[int, tuple[str, float]] = {}
        self._calm_until = 0.0  # fast path allowed before this monotonic time (see _CALM)
        self._guard_ms = int(max(60.0, 2 * self._client.retry.budget) * 1000)
        self._main_b = main.encode()
        m = self._client.metrics
        label = m.name(self.key)
        self._m = {
            op: m.queue_ops.labels(self._kind, label, op)
            for op in ("put", "get", "reserve", "ack", "nack", "redelivered", "dead_lettered", "replayed")
        }
        reply = self._client.perform(
            Eval(_INIT, (self._meta, main), (type(self).__name__, self._bounded,  # <= 0: unbounded, as 0
                                              "" if max_attempts is None else max_attempts,
                                              "zset" if self._zset else "list"))
        )
        code = int(reply[0])
        if code == 1:
            raise ConfigConflictError(
                f"key {self.key!r} holds a {reply[1].decode()}, not a {type(self).__name__}", key=self.key
            )
        if code == 2:
            raise ConfigConflictError(
                f"queue {self.key!r} has maxsize={reply[1].decode()} in Redis; this object asked for "
                f"maxsize={maxsize}: every object on one key must enforce the same bound",
                key=self.key,
            )
        if code == 3:
            raise ConfigConflictError(
                f"queue {self.key!r} has max_attempts={reply[1].decode()} in Redis, not {max_attempts}", key=self.key
            )
        stored = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        self.max_attempts = int(stored) if stored else None
        if key is not None:
            self._client.register(self._kind, main)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as a handle: the copy is a new object on the same key with the same
        settings; messages this object reserved stay its own to ack (see
        :mod:`hotsync._pickling`)."""
        return rebuild, (type(self), (self.maxsize, self.key, self._client),
                         {"codec": self._codec, "lease": self.lease, "max_attempts": self.max_attempts})

    # -- variant hooks ----------------------------------------------------

    def _encode(self, items: Sequence[Any]) -> list[Any]:
        """ARGV of the put script for *items* (TypeError before any write)."""
        dumps = self._codec.dumps
        owner, token, ids = self._idgen
        if owner != process_token():
            owner, token, ids = self._idgen = (process_token(), uuid.uuid4().hex[:8], itertools.count(1))
        # '|id|0|payload': the put script puts the enqueue time in front
        return [f"|{token}{next(ids):x}|0|".encode() + dumps(item) for item in items]

    def _decode(self, raw: bytes) -> Any:
        """A waiting item as stored (list envelope / zset member) -> its value."""
        return self._codec.loads(raw.split(b"|", 3)[3])

    def _decode_many(self, raw: list[bytes]) -> list[Any]:
        if self._zset:
            return [self._decode(r) for r in raw]
        loads = self._codec.loads
        return [loads(r.split(b"|", 3)[3]) for r in raw]

    def _decode_entry(self, entry: bytes) -> tuple[str, int, Any]:
        """An in-flight envelope -> (id, attempts, value)."""
        _enqueued, mid, deliveries, payload = entry.split(b"|", 3)
        return mid.decode(), int(deliveries) + 1, self._decode_payload(payload)

    def _decode_payload(self, payload: bytes) -> Any:
        return self._codec.loads(payload)

    # -- plumbing ---------------------------------------------------------

    @property
    def client(self) -> HotClient:
        """The :class:`~hotsync.HotClient` this object talks through."""
        return self._client

    def _note_due(self, ms: Any) -> None:
        ms = int(ms)
        self._due_at = None if ms < 0 else time.monotonic() + ms / 1000.0

    def _due_left(self) -> float | None:
        due = self._due_at
        return None if due is None else max(due - time.monotonic(), 0.0)

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
        """The guard part of a put's request: its TTL, renewed ('+') when half of it may be gone."""
        if time.monotonic() - p[2] > self._guard_ms / 2000:
            return f"/+{self._guard_ms}"
        return f"/{self._guard_ms}"

    # -- put ----------------------------------------------------------------

    def _put_call(self, argv: list[Any], req: str, guard: str, wait_ms: int, putter: str, delay_ms: int,
                  strict: str = "0") -> Eval:
        """The put script call; *req*: '' or the request with its guard part (see queue_put.lua);
        *strict*: '1' full or shut down is an error reply, '2' only check (transactions)."""
        idem = req.startswith("?")
        if self._zset:
            keys = (self._main, self._meta, self._delayed, guard, self._putters, self._waiters, self._ready,
                    self._attempts, self._getters)
            head = (req, self._bounded, wait_ms, putter, delay_ms, strict, self._mode)
            return Eval(_ZPUT, keys, (*head, *argv), idempotent=idem)
        if not (self._bounded or delay_ms or wait_ms or strict != "0"):
            return Eval(_PUT, (self._main, self._meta, guard), (req, *argv), idempotent=idem)
        keys = (self._main, self._meta, guard, self._delayed, self._putters, self._getters)
        head = (req, self._bounded, wait_ms, putter, delay_ms, strict)
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
                reply = yield self._put_call(argv, req + garg, p[0], wait_ms, putter, delay_ms)
            except OutcomeUnknownError:
                # sent, reply lost: ask again with the retry guard checked ("?"), safe to repeat
                req = req if req.startswith("?") else "?" + req
                continue
            code = int(reply)
            if code >= -1:  # added (n), or applied by the attempt whose reply was lost (-1)
                if garg[1] == "+":
                    p[2] = sent
                return code
            if code == -2:
                raise ShutDown(f"queue {self.key!r} is shut down")
            if not block or deadline.expired():
                raise Full
            wait = deadline.block_for()
            yield Cmd(("BLPOP", self._space, _seconds(wait)), block=wait)

    def _put_items(self, items: list[Any], block: bool, timeout: float | None, delay: float) -> int:
        delay_ms = 0 if type(delay) is int and delay == 0 else _check_delay(delay)
        argv = self._encode(items)  # bad values fail here, before any write
        if self._bounded and len(items) > self._bounded:
            raise ValueError(f"cannot put {len(items)} items into a queue of maxsize {self.maxsize}")
        client = self._client
        if client.in_transaction():
            # all or nothing: the transaction checks, under WATCH, that the queue takes
            # every item its puts of this queue bring, before its MULTI (see Guard)
            def check(merged: list[Any]) -> Eval:
                return self._put_call(merged, "", self._meta, 0, "", delay_ms, "2")

            watch = (self._main, self._meta, self._delayed) if self._bounded else (self._meta,)
            guard = Guard(("queue put", self._main), watch, check, tuple(argv))
            client.write(replace(self._put_call(argv, "", self._meta, 0, "", delay_ms, "1"), guard=guard))
            self._m["put"].inc(len(items))
            return len(items)
        if self._bounded or delay_ms or self._zset:
            added = client.drive(self._put_ops(argv, block, timeout, delay_ms))
        else:  # the plain put: one script call, no generator
            p = self._producer()
            garg, sent = self._guard_arg(p), time.monotonic()
            try:
                added = int(client.run_script(_PUT, (self._main, self._meta, p[0]), (f"{p[1]}{garg}", *argv),
                                              idempotent=False))
            except OutcomeUnknownError:
                added = client.drive(self._put_ops(argv, block, timeout, 0, p))
            else:
                if added == -2:
                    raise ShutDown(f"queue {self.key!r} is shut down")
                if garg[1] == "+":
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
            _check_timeout(timeout)
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
            _check_timeout(timeout)
        if not items:
            return 0
        return self._put_items(items, block, timeout, delay)

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
            return _evalsha(_ZPRE, (self._main, self._meta, self._delayed, self._getters, self._ready, self._attempts),
                            (int(bound * 1000), self._mode, gid))
        return _evalsha(_PRE, (self._main, self._meta, self._delayed, self._getters, self._consumers_key,
                               consumer.inflight if consumer else self._meta),
                        (int(bound * 1000), cid, self._lease_ms, "1" if drop else "0", gid))

    def _space_call(self) -> Eval:
        return Eval(_SPACE, (self._main, self._delayed, self._putters, self._space),
                    (self._bounded, "1" if self._zset else "0"))

    def _take_ops(self, n: int, block: bool, timeout: float | None, consumer: _Consumer | None,
                  ack: Message | None = None) -> Ops:
        """Take 1..n waiting items (or reserve one); the one loop of every get.

        A blocking take pops natively (BRPOP/BLPOP/BLMOVE on lists, BZPOPMIN on
        zsets) in one pipeline after the prepare script (queue_pre / queue_zpre),
        which promotes due delayed items, registers the caller and reports a
        shutdown.  On the fast path (the last prepare, less than ``_CALM`` s ago,
        found nothing delayed and no shutdown) the native pop goes alone, for at
        most what is left of that second.

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
                    yield Cmd(("BZPOPMIN", self._ready, _seconds(bound)), block=bound)
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
            fast = calm_left >= 0.05 and not (register_getter or register_consumer or drop)
            if fast:
                bound = min(bound, calm_left)
            elif consumer is not None:
                # a fresh registration lasts a lease: it outlives a wait of half of it
                bound = min(bound, self.lease / 2 if register_consumer else min(self.lease / 2, reg_left))
            secs = _seconds(bound)
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
                calls.append(_evalsha(space.script, space.keys, space.args))
            acking, ack = ack, None
            if acking is not None:
                call = self._ack_call(acking)
                calls.insert(0, _evalsha(call.script, call.keys, call.args))
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
            _check_timeout(timeout)
        raw = self._client.drive(self._take_ops(1, block, timeout, None))
        self._m["get"].inc()
        return self._decode(raw[0])

    def get_nowait(self) -> Any:
        """Remove and return an item if one is immediately available, else raise ``Empty``."""
        return self.get(block=False)

    def get_many(self, n: int, block: bool = True, timeout: float | None = None) -> list[Any]:
        """Remove and return up to *n* items (at least one) in one round trip.

        Waits like :meth:`get` for the first item; returns what is there then.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if n < 1:
            raise ValueError("n must be >= 1")
        if block and timeout is not None:
            _check_timeout(timeout)
        raw = self._client.drive(self._take_ops(n, block, timeout, None))
        self._m["get"].inc(len(raw))
        return self._decode_many(raw)

    # -- reliable consumption -------------------------------------------------------

    def _consumer(self) -> _Consumer:
        tid = threading.get_ident()
        c = self._consumers.get(tid)
        if c is None or c.token != process_token():
            cid = f"{_HOST}/{os.getpid()}/{process_token()}/{self._token}/{tid:x}"
            c = self._consumers[tid] = _Consumer(cid, _keys.aux(self._main, f"inflight:{cid}"))
        return c

    def _heartbeat(self, c: _Consumer) -> None:
        """Start the consumer's heartbeat (one Lease in the process's renewal thread)."""
        if c.lease is not None and c.lease.active:
            return

        def check(reply: Any) -> bool:
            dead = [d.decode() for d in reply[1:]]
            if dead:
                self._reap_consumers(dead)
            with c.lock:
                if self._leave_if_idle(c, lease):
                    return True
                if int(reply[0]) == 1 and c.held and not c.reserving:
                    self._requeue_strays(c)
                # not registered while holding messages: they were reaped (we stalled past the lease)
                return int(reply[0]) == 1 or not c.held

        def lost(reason: str) -> None:
            with c.lock:
                c.held.clear()
                c.orphans.clear()
                c.until = 0.0
                if c.lease is lease:
                    c.lease = None

        lease = Lease(self._client, Eval(_HEARTBEAT, (self._consumers_key,), (c.id, self._lease_ms)), self.lease,
                      time.monotonic(), lost, check=check, kind=self._kind, name=self.key)
        c.lease, c.first_beat = lease, lease.deadline
        _beating.add(self)
        scheduler().add(lease)

    def _leave_idle(self) -> None:
        """Take this object's idle consumers out of {K}:consumers now (the exit hook).

        An idle consumer otherwise leaves at its next heartbeat; a process that exits
        first would leave its entry behind for good when no other consumer of the
        queue ever runs to reap it (a key that outlives every user).  A consumer
        still holding messages keeps its entry: its lease runs out and another
        consumer redelivers them, as after a crash."""
        for c in list(self._consumers.values()):
            with c.lock:
                if c.token == process_token() and c.lease is not None and c.lease.active:
                    self._leave_if_idle(c, c.lease)

    def _requeue_strays(self, c: _Consumer) -> None:
        """(Under ``c.lock``, no reserve of ``c`` under way: the heartbeat of a busy
        consumer.)  Give back what sits in ``c``'s in-flight list unknown to it.

        A reserve's BLMOVE can land after its caller gave up on it: a connection
        that went half-open (a network partition) delivers the command late, the
        server moves a message, and the reply reaches nobody.  An idle consumer
        gives such a stray back when it leaves; a busy one keeps its entry in
        {K}:consumers for as long as it lives, so without this the message would
        wait for a quiet moment or the process's end.  With no reserve of ``c``
        under way, anything in the list that ``c`` does not hold, adopt or settle
        is such a stray; it goes back to the queue (counting a delivery, as a
        nack would).  Best effort: an error leaves the rest to the next beat."""
        try:
            entries = self._client.perform(Cmd(("LRANGE", c.inflight, 0, _STRAY_SCAN - 1)))
            known = c.held | set(c.orphans) | set(c.unsettled)
            for entry in entries or ():
                if entry and entry not in known:  # b"": a wake marker, which the next prepare drops
                    reply = self._client.perform(self._requeue_call("one", c.inflight, "", 0, entry, 1))
                    if int(reply[0]) >= 0:
                        self._count_requeue(reply)
        except Exception:  # noqa: BLE001 - Redis unreachable, or the key replaced: the next beat looks again
            return

    def _leave_if_idle(self, c: _Consumer, lease: Lease) -> bool:
        """(Under ``c.lock``.)  When ``c`` holds nothing and ``lease`` is still its
        heartbeat: stop the heartbeat and leave {K}:consumers, requeueing anything
        stray in its list first (and messages whose ack failed: see ``unsettled``;
        and orphans, which no reserve adopted: a thread that stopped reserving
        would otherwise keep them, and its entry, for as long as the process lives).
        Returns whether it left."""
        if c.held or c.reserving or c.lease is not lease:
            return False
        lease.active = False
        c.lease = None
        c.until = 0.0
        c.orphans.clear()
        self._requeue_all(c.inflight, c.id)
        return True

    def reserve(self, block: bool = True, timeout: float | None = None) -> Message:
        """Take an item for processing; it stays held by this process until acked.

        Blocks like :meth:`get` (same arguments, same ``Empty``/``ShutDown``).  The
        returned :class:`~hotsync.Message` sits in this consumer's in-flight list in
        Redis until ``msg.ack()`` (done; counts as ``task_done()``) or
        ``msg.nack(delay=0)`` (deliver again).  While this process lives, its
        renewal thread keeps the consumer's lease alive (one heartbeat per
        consumer, not per message); if the process dies, its messages are
        redelivered within about one ``lease`` (+ a third) by any live consumer of
        the queue, each delivery counting an attempt; after ``max_attempts`` a
        message goes to the dead letters.  Delivery is at-least-once: a message
        may be processed twice (a consumer that stalls past its lease), never lost.
        """
        if block and timeout is not None:
            _check_timeout(timeout)
        return self._reserve(block, timeout, None)

    def _reserve(self, block: bool, timeout: float | None, ack: Message | None) -> Message:
        c = self._consumer()
        if ack is not None and ack._consumer is not c:
            ack.ack()
            ack = None
        try:
            self._settle_unsettled(c)
        except BaseException:
            if ack is not None:
                self._unsettle(ack, "ack", 0)
            raise
        with c.lock:
            orphan = c.orphans.pop(0) if c.orphans else None
            if orphan is not None:  # moved to us earlier with its reply lost (see _recover)
                c.held.add(orphan)
            else:
                c.reserving += 1
                self._heartbeat(c)
        if orphan is not None:
            if ack is not None:
                ack.ack()
            return self._message(c, orphan)
        try:
            entry = self._client.drive(self._take_ops(1, block, timeout, c, ack))[0]
            with c.lock:
                c.held.add(entry)
        except BaseException:
            if ack is not None and ack.settled is None:  # its ack rode with the failed reserve
                self._unsettle(ack, "ack", 0)
            raise
        finally:
            with c.lock:
                c.reserving -= 1
        self._m["reserve"].inc()
        return self._message(c, entry)

    def consume(self, timeout: float | None = None) -> Iterator[Message]:
        """Reserve messages one after another, acking each when the loop comes back for the next.

        ``for msg in q.consume(timeout=5): work(msg.value)`` is ``reserve()`` +
        ``ack()`` per message, but each ack travels in the same round trip as the
        next reserve (one round trip per message on list queues).  The loop ends
        when no message arrives within *timeout* seconds (None: wait forever) or
        when the queue is shut down and empty.  Leaving the loop early (``break``,
        an exception) nacks the current message unless it was acked or nacked
        explicitly; if the process dies instead, it is redelivered after the lease.
        """
        if timeout is not None:
            _check_timeout(timeout)
        pending: Message | None = None
        while True:
            try:
                msg = self._reserve(True, timeout, pending)
            except (Empty, ShutDown):
                return
            pending = None
            try:
                yield msg
            except GeneratorExit:
                if msg.settled is None:
                    msg.nack()
                raise
            pending = msg if msg.settled is None else None

    def _message(self, c: _Consumer, entry: bytes) -> Message:
        mid, attempts, value = self._decode_entry(entry)
        return Message(self, c, entry, mid, attempts, value)

    def _ack_call(self, msg: Message) -> Eval:
        return Eval(_ACK, (msg._consumer.inflight, self._meta, self._joiners, self._joined), (msg._entry,),
                    idempotent=True)

    def _settle(self, msg: Message, how: str, delay: float) -> bool:
        delay_ms = 0 if how == "ack" else _check_delay(delay)
        if msg.settled is not None:
            return False
        try:
            if how == "ack":
                return self._finish(msg, how, self._client.perform(self._ack_call(msg)))
            reply = self._client.perform(self._requeue_call("one", msg._consumer.inflight, "", delay_ms, msg._entry,
                                                            1))
        except BaseException:
            self._unsettle(msg, how, delay_ms)
            raise
        if int(reply[0]) >= 0:
            self._count_requeue(reply)
        return self._finish(msg, how, 1 if int(reply[0]) >= 0 else 0)

    def _unsettle(self, msg: Message, how: str, delay_ms: int) -> None:
        """An ack/nack of *msg* failed: not held any more (an idle consumer's heartbeat
        gives it back); the consumer's next reserve settles it first."""
        c = msg._consumer
        with c.lock:
            c.held.discard(msg._entry)
            c.unsettled[msg._entry] = (msg, how, delay_ms)

    def _settle_unsettled(self, c: _Consumer) -> None:
        """Settle the messages whose ack/nack failed before (both are safe to repeat:
        by entry, a message no longer in the in-flight list is left alone)."""
        while c.unsettled:
            with c.lock:
                if not c.unsettled:
                    break
                entry, (msg, how, delay_ms) = next(iter(c.unsettled.items()))
            if msg.settled is None:
                self._settle(msg, how, delay_ms / 1000)
            with c.lock:
                c.unsettled.pop(entry, None)

    def _finish(self, msg: Message, how: str, reply: Any) -> bool:
        """Record the outcome of an ack (reply 1/0) or a nack (1/0) of *msg*."""
        ok = int(reply) == 1
        c = msg._consumer
        with c.lock:
            c.held.discard(msg._entry)
            c.unsettled.pop(msg._entry, None)
        msg.settled = ("acked" if how == "ack" else "nacked") if ok else "lost"
        self._m[how].inc()
        return ok

    def _requeue_call(self, mode: str, source: str, consumer: str, delay_ms: int, entry: bytes | str,
                      limit: int) -> Eval:
        if self._zset:
            keys = (self._main, self._meta, self._delayed, self._dead, self._joiners, self._joined,
                    self._consumers_key, source, self._waiters, self._ready, self._attempts, self._getters)
            return Eval(_ZREQUEUE, keys, (mode, consumer, delay_ms, entry, self._mode, limit))
        keys = (self._main, self._meta, self._delayed, self._dead, self._joiners, self._joined,
                self._consumers_key, source, self._getters)
        return Eval(_REQUEUE, keys, (mode, consumer, delay_ms, entry, "1" if self._lifo else "0", limit),
                    idempotent=mode == "one")

    def _count_requeue(self, reply: Any, replay: bool = False) -> None:
        if int(reply[0]) > 0:
            self._m["replayed" if replay else "redelivered"].inc(int(reply[0]))
        if int(reply[1]) > 0:
            self._m["dead_lettered"].inc(int(reply[1]))

    def _requeue_all(self, source: str, consumer: str, replay: bool = False, limit: int | None = None,
                     reap: bool = False) -> int:
        """Requeue every message of *source*; *reap*: only while *consumer*'s lease has run out
        (checked by each call: a consumer that renewed meanwhile keeps what it holds)."""
        mode = "replay" if replay else ("reap" if reap else "all")
        moved = 0
        while limit is None or moved < limit:
            step = _CHUNK if limit is None else min(_CHUNK, limit - moved)
            reply = self._client.perform(self._requeue_call(mode, source, consumer, 0, "", step))
            self._count_requeue(reply, replay)
            moved += int(reply[0]) + int(reply[1])
            if int(reply[2]) == 0 or int(reply[0]) + int(reply[1]) == 0:
                break
        return moved

    def _reap_consumers(self, dead: list[str]) -> int:
        return sum(self._requeue_all(_keys.aux(self._main, f"inflight:{cid}"), cid, reap=True) for cid in dead)

    def reap(self) -> int:
        """Redeliver the messages of consumers whose lease ran out; return how many.

        Live consumers run this from their heartbeat; call it to make recovery
        deterministic (tests, operations).  Messages that reached ``max_attempts``
        go to the dead letters (counted in the result too).
        """
        total = 0
        while True:
            reply = self._client.perform(Eval(_HEARTBEAT, (self._consumers_key,), ("", self._lease_ms)))
            dead = [d.decode() for d in reply[1:]]
            if not dead:
                return total
            total += self._reap_consumers(dead)

    def requeue_consumer(self, consumer: str) -> int:
        """Operator repair: give back every message reserved by *consumer*; return how many.

        For a consumer that is alive but stuck (its heartbeat keeps its lease, so
        ``reap()`` leaves it alone).  *consumer* is an id from
        ``statistics().in_flight_by_consumer`` (``host/pid/...``).  Each message
        is redelivered with one more attempt, or dead-lettered once it reached
        ``max_attempts``, exactly as the reaper does; the count includes both.
        The stuck consumer's late ``ack()``/``nack()`` of such a message then
        reports False and changes nothing: its delivery was taken back.
        """
        if not isinstance(consumer, str):
            raise TypeError(f"consumer must be a consumer id (str), not {type(consumer).__name__}")
        if not consumer:
            raise ValueError("consumer must not be empty")
        return self._requeue_all(_keys.aux(self._main, f"inflight:{consumer}"), "")

    def statistics(self) -> QueueStatistics:
        """Depth, oldest item's age, in-flight messages by consumer, dead letters and more.

        Read from Redis by one read-only script (a second round trip only when
        consumers appeared that this process has not seen before); see
        :class:`~hotsync.QueueStatistics`.
        """
        return read_statistics(self._client, self._main, self._layout)

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        """The dead letters, oldest first (at most *limit*); ``attempts`` counts their deliveries."""
        _check_limit(limit)
        if limit == 0:
            return []
        # newest first in Redis: the oldest *limit* are at the tail
        raw = self._client.read(Cmd(("LRANGE", self._dead, -limit if limit else 0, -1))) or []
        out = []
        for entry in reversed(raw):
            mid, attempts, value = self._decode_entry(entry)
            out.append(DeadLetter(value, mid, attempts - 1))
        return out

    def dead_count(self) -> int:
        """Number of dead letters."""
        return int(self._client.read(Cmd(("LLEN", self._dead))))

    def replay_dead(self, limit: int | None = None) -> int:
        """Put dead letters back into the queue (oldest first, attempts reset); return how many."""
        _check_limit(limit)
        if limit == 0:
            return 0
        return self._requeue_all(self._dead, "", replay=True, limit=limit)

    def purge_dead(self) -> int:
        """Delete every dead letter; return how many there were."""
        replies = self._client.perform(Batch((Cmd(("LLEN", self._dead)), Cmd(("DEL", self._dead))),
                                             transaction=True))
        return int(replies[0])

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
            yield Cmd(("BLPOP", self._joined, _seconds(MAX_BLOCK)), block=MAX_BLOCK)

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
        nacked.  Shutdown is permanent for the key.
        """
        keys = (self._main, self._meta, self._delayed, self._getters, self._ready, self._joiners, self._joined,
                self._putters, self._space, self._waiters)
        layout = "zset" if self._zset else ("lifo" if self._lifo else "fifo")
        self._client.write(Eval(_SHUTDOWN, keys, ("1" if immediate else "0", layout)))
        self._calm_until = 0.0

    def __repr__(self) -> str:
        return f"<hotsync.{type(self).__name__} key={self.key!r} maxsize={self.maxsize}>"


class Queue(_QueueBase):
    """A FIFO queue shared by every process that uses the same key.

    Model: a Redis list (``LPUSH`` in, pop from the right), with its bound,
    unfinished-task count and shutdown flag stored next to it in Redis, so
    every object on the key, on any host, enforces the same rules.

    Distributed semantics:
        *Waiting.* ``get()`` and ``reserve()`` block in Redis with a native
        blocking pop (BRPOP, BLMOVE), in one round trip even when they had to
        wait; a putter on a full queue blocks on a "space" signal pushed by the
        get that freed a slot; ``join()`` blocks on a signal pushed when the last
        task is done.  Nothing polls.  A delayed item or a shutdown wakes the
        blocked getters (wake markers in the list); a getter that was busy
        meanwhile notices within about a second.
        *Delivery.* ``get()`` is at-most-once (the item leaves Redis when popped);
        ``reserve()`` is at-least-once: a reserved message lives in the
        consumer's in-flight list until acked, and comes back if the consumer
        dies (its heartbeat lease, ``lease=`` seconds, runs out), nacks it, or an
        operator requeues it (``requeue_consumer``).  ``max_attempts``
        deliveries without an ack send it to the dead letters.
        *Round trips.* ``put`` 1; ``get`` 1, also when it had to wait (a
        bookkeeping script goes in the same pipeline when something may need
        it: the first get, delayed items, shutdown, then at least once a
        second; otherwise the native pop goes alone, one command per item);
        ``reserve`` + ``ack`` 2, or 1 per message with ``consume()`` (the ack
        rides with the next reserve); ``put_many``/``get_many`` 1 per batch;
        ``statistics()`` 1.
        *Retries.* ``put`` carries a request number checked in Redis, so a put
        retried after a lost reply is applied once; ``ack``/``nack`` are
        idempotent; a lost reply of ``reserve`` is recovered from the consumer's
        own in-flight list.
        *Clock.* Delays, leases and items' enqueue times are the Redis server's.

    Differences from ``queue.Queue``:
        ``maxsize`` must be an int and must match the one stored for the key
        (else :class:`~hotsync.ConfigConflictError`).  ``qsize()`` counts delayed
        items.  Values travel through the codec (JSON by default: tuples come
        back as lists).  It can be pickled (passed to a spawned worker): the copy
        is a queue on the same key; reserved messages stay with the sender.
        Extra: ``put(delay=)``, ``put_many``, ``get_many``,
        ``reserve``, ``consume``, dead letters (``dead_letters``, ``dead_count``,
        ``replay_dead``, ``purge_dead``), ``reap``, ``requeue_consumer``,
        ``statistics()``, ``unfinished_tasks()``.

    Example::

        jobs = hotsync.Queue(key="jobs", lease=60, max_attempts=5)
        jobs.put({"video": 17})
        with jobs.reserve() as msg:     # acked if the block succeeds
            transcode(msg.value)
    """

    _kind = "queue"


class LifoQueue(_QueueBase):
    """A LIFO queue (last in, first out) shared across processes; see :class:`Queue`.

    Redelivered (nacked or reaped) messages go back on top.
    """

    _kind = "lifoqueue"
    _lifo = True


class PriorityQueue(_QueueBase):
    """A priority queue shared across processes: lowest priority first, FIFO among equals.

    Items are ``(priority, value)`` pairs (tuples or lists), or bare numbers,
    as with ``queue.PriorityQueue``; ``get()`` returns them in the same shape
    (a tuple for pairs).  The priority must be a finite int or float: it is the
    Redis zset score (a double: ints beyond 2**53 lose precision).  Model: a zset
    scored by priority whose members start with a sequence number.

    Differences from ``queue.PriorityQueue``: equal priorities come out in put
    order (the values are never compared); priorities must be real numbers.
    A message's id is its member's stamp: a dead letter replayed gets a new one.
    """

    _kind = "priorityqueue"
    _layout = "pq"
    _zset = True
    _mode = "pq"

    def _encode(self, items: Sequence[Any]) -> list[Any]:
        argv: list[Any] = []
        dumps = self._codec.dumps
        for item in items:
            if isinstance(item, (tuple, list)) and len(item) == 2 and not isinstance(item[0], (tuple, list)):
                prio, payload = item[0], b"t" + dumps(item[1])
            else:
                prio, payload = item, b"n" + dumps(item)
            if not isinstance(prio, (int, float)):
                raise TypeError(
                    f"PriorityQueue items are (priority, value) pairs or numbers with a real-number priority, "
                    f"not {type(prio).__name__}"
                )
            if isinstance(prio, float) and not math.isfinite(prio):
                raise ValueError(f"priority must be finite, not {prio!r}")
            if not isinstance(prio, float) and abs(prio) > _MAX_INT_PRIORITY:  # before any write
                raise ValueError(f"priority {prio} is too large: Redis scores are doubles (at most about 1.8e308)")
            argv += (repr(float(prio)) if isinstance(prio, float) else str(int(prio)), payload)
        return argv

    def _decode(self, raw: bytes) -> Any:
        return self._decode_entry(raw)[2]

    def _decode_entry(self, entry: bytes) -> tuple[str, int, Any]:
        mid, deliveries, prio, payload = entry.split(b"|", 3)
        value = self._codec.loads(payload[1:])
        if payload[:1] == b"t":
            p = prio.decode()
            value = (int(p) if p.lstrip("-").isdigit() else float(p), value)
        return mid.decode(), int(deliveries) + 1, value


class SetQueue(_QueueBase):
    """A FIFO queue of unique members shared across processes.

    Putting an item that is already waiting (or delayed) is a no-op; the check
    and the insert are one atomic step.  Once an item has been got or reserved it
    may be put again; a reserved one given back (nack, reap, replay) while the same
    member waits again merges into it (one member, one unfinished task).  Model: a
    zset of encoded values scored by a sequence number.  ``put_many`` returns how
    many items were actually added.

    Members are equal when their encodings are: with the default json codec, dicts
    are encoded with sorted keys, so ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}``
    are one member; ``1`` and ``1.0`` (``"1"`` and ``"1.0"`` in JSON) are two,
    unlike in a Python ``set``.  A custom codec decides for itself.

    Attempts (``max_attempts``) are counted per message, that is per put, not per
    member: a member put again while a copy of it is reserved is a second message
    with its own count, and acking or dead-lettering one copy leaves the other's
    count alone.  A message given back into a waiting copy goes on as that copy,
    which counts the larger of the two numbers of deliveries: neither message is
    delivered more than ``max_attempts`` times.
    """

    _kind = "setqueue"
    _layout = "fifo"
    _zset = True
    _mode = "fifo"

    def _encode(self, items: Sequence[Any]) -> list[Any]:
        # members are compared as bytes: with the json codec, dicts equal in Python
        # (keys in another order) must encode alike
        dumps = getattr(self._codec, "dumps_sorted", self._codec.dumps)
        return [dumps(item) for item in items]

    def _decode(self, raw: bytes) -> Any:
        return self._codec.loads(raw)

    def _decode_entry(self, entry: bytes) -> tuple[str, int, Any]:
        mid, deliveries, _score, payload = entry.split(b"|", 3)
        return mid.decode(), int(deliveries) + 1, self._codec.loads(payload)


class LifoSetQueue(_QueueBase):
    """A LIFO queue of unique members shared across processes; see :class:`SetQueue`."""

    _kind = "lifosetqueue"
    _layout = "lifo"
    _zset = True
    _mode = "lifo"
    _encode = SetQueue._encode
    _decode = SetQueue._decode
    _decode_entry = SetQueue._decode_entry


def _leave_at_exit() -> None:
    """atexit: idle consumers of every queue object leave {K}:consumers, within
    _EXIT_BUDGET seconds (on a daemon thread: a stalled server does not hold the exit)."""
    queues = [q for q in list(_beating) if q._consumers]
    if not queues:
        return

    def leave() -> None:
        for q in queues:
            try:
                q._leave_idle()
            except Exception:  # noqa: BLE001, S110 - best effort: the lease ends the entry anyway
                pass

    t = threading.Thread(target=leave, name="hotsync-queue-exit", daemon=True)
    try:
        t.start()
    except RuntimeError:  # no new threads at this stage of the exit: skip (the lease ends it)
        return
    t.join(_EXIT_BUDGET)


atexit.register(_leave_at_exit)
