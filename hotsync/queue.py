"""Queues across processes and hosts: ``queue``'s API, plus reliable consumption.

One class, :class:`_QueueBase`, owns every blocking, timeout, ``task_done``/
``join`` and ``shutdown`` rule; the variants differ only by the structure and
scripts they use (as CPython's variants differ by four hooks).  Its methods live
in three parts: :mod:`hotsync._queue_put` (put, sizes, task_done, join,
shutdown), :mod:`hotsync._queue_take` (get, and the wait loop of every take)
and :mod:`hotsync._queue_reliable` (reserve, ack, heartbeats, dead letters):

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

import itertools
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from . import _keys
from ._message import DeadLetter, Message
from ._ops import MAX_SECONDS, Eval
from ._pickling import rebuild
from ._queue_put import _Putting
from ._queue_reliable import _Reliable
from ._queue_stats import QueueStatistics
from ._queue_take import _Taking
from ._queue_util import _Consumer
from ._renewal import process_token
from ._scripts import script
from .client import HotClient, default_client
from .codecs import Codec, get_codec
from .exceptions import ConfigConflictError

__all__ = ["Queue", "LifoQueue", "PriorityQueue", "SetQueue", "LifoSetQueue", "Message", "DeadLetter",
           "QueueStatistics"]

_INIT = script("queue_init")
_MAX_INT_PRIORITY = int(1.7e308)


class _QueueBase(_Putting, _Taking, _Reliable):
    """Everything the queue variants share; a variant picks its structure and scripts."""

    _kind: ClassVar[str] = "queue"
    _layout: ClassVar[str] = "list"  # how queue_stats reads it (see _queue_stats.LAYOUTS)
    _zset: ClassVar[bool] = False
    _lifo: ClassVar[bool] = False
    _unique: ClassVar[bool] = False  # a set queue: each member waits at most once
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
        return mid.decode(), int(deliveries) + 1, self._codec.loads(payload)

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
        A message already accepted is never refused: a nack, a redelivery after
        a lease and ``replay_dead()`` put it back even into a full queue, which
        then holds more than ``maxsize`` until consumers catch up.  ``ack()``
        counts as ``task_done()``: call one or the other for a message, not both
        (an extra completion is not reported; the count stops at zero).  A
        delayed item joins the queue when a getter next looks (within about a
        second of its due time), behind items put meanwhile.
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
    order (the values are never compared); priorities must be real numbers, and
    come back as the int or float the score holds (``True`` comes back as 1).
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
    _unique = True
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
    _unique = True
    _layout = "lifo"
    _zset = True
    _mode = "lifo"
    _encode = SetQueue._encode
    _decode = SetQueue._decode
    _decode_entry = SetQueue._decode_entry

