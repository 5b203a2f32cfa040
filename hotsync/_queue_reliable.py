"""Reliable consumption: reserve, ack/nack, consumer heartbeats, reaping, dead letters.

A part of :class:`hotsync.queue._QueueBase` (see :mod:`hotsync._queue_util`).
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from . import _keys
from ._message import DeadLetter, Message
from ._ops import Batch, Cmd, Eval
from ._queue_stats import QueueStatistics, read_statistics
from ._queue_util import _HEARTBEAT, _Consumer, _check_delay, _check_limit
from ._renewal import Lease, process_token, scheduler
from ._scripts import script
from .exceptions import Empty, ShutDown

__all__: list[str] = []

_REQUEUE = script("queue_requeue")
_ACK = script("queue_ack")
_ZREQUEUE = script("queue_zrequeue")

_HOST = socket.gethostname().replace("/", "_")
_CHUNK = 1000
_STRAY_SCAN = 1000  # in-flight entries a busy consumer's heartbeat looks through for strays

#: Queue objects with a consumer heartbeat: at interpreter exit their idle consumers
#: leave {K}:consumers (see _leave_at_exit); weak, so a dropped queue is not kept alive
_beating: weakref.WeakSet[Any] = weakref.WeakSet()
#: Seconds the exit hook may spend leaving (Redis down: the exit does not wait the
#: retry budget out; the entries then end with their lease, reaped by other consumers)
_EXIT_BUDGET = 2.0


class _Reliable:
    """Reserve, ack/nack, heartbeats, reaping and dead letters of :class:`hotsync.queue._QueueBase`."""

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
            self._check_timeout_shut_first(timeout, taking=True)
        return self._reserve(block, timeout, None)

    def _reserve(self, block: bool, timeout: float | None, ack: Message | None) -> Message:
        c = self._consumer()
        if ack is not None and ack._consumer is not c:
            ack.ack()
            ack = None
        if c.unsettled:
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
                if c.lease is None or not c.lease.active:
                    self._heartbeat(c)
        if orphan is not None:
            if ack is not None:
                ack.ack()
            return self._message(c, orphan)
        try:
            entry = self._client.drive(self._take_ops(1, block, timeout, c, ack))[0]
        except BaseException:
            with c.lock:
                c.reserving -= 1
            if ack is not None and ack.settled is None:  # its ack rode with the failed reserve
                self._unsettle(ack, "ack", 0)
            raise
        with c.lock:
            c.held.add(entry)
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
            self._check_timeout_shut_first(timeout, taking=True)
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

    def _ack_keys(self, msg: Message) -> tuple[str, str, str, str]:
        """KEYS of queue_ack for *msg* (the one place that lists them)."""
        return (msg._consumer.inflight, self._meta, self._joiners, self._joined)

    def _ack_call(self, msg: Message) -> Eval:
        return Eval(_ACK, self._ack_keys(msg), (msg._entry,), idempotent=True)

    def _ack_cmd(self, msg: Message) -> Cmd:
        """``_ack_call(msg).by_sha()``, made directly (it rides with every reserve of consume())."""
        return Cmd(("EVALSHA", _ACK.sha, 4, *self._ack_keys(msg), msg._entry))

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
            dropped = int(reply[3]) if len(reply) > 3 else 0  # shut down immediately: dropped, not moved
            if int(reply[2]) == 0 or int(reply[0]) + int(reply[1]) + dropped == 0:
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
