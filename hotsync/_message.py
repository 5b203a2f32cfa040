"""Messages handed out by ``reserve()``, and dead letters.

A :class:`Message` is one delivery of one queued item to one consumer.  It stays
in that consumer's in-flight list in Redis until ``ack()`` (done: it counts as
``task_done()``) or ``nack()`` (put it back, or dead-letter it after
``max_attempts``).  Both are idempotent: retried after a lost reply they do not
apply twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._queue_util import _Consumer
    from .queue import _QueueBase

__all__ = ["Message", "DeadLetter"]


class Message:
    """One delivery of a queued item, reserved by this process until acked.

    Attributes:
        value: the item, decoded by the queue's codec.
        id: the message id (a string, stable across redeliveries).
        attempts: how many times it has been delivered, this delivery included
            (1 on the first delivery).

    ``with q.reserve() as msg:`` acks when the block succeeds and nacks (puts it
    back at once) when it raises.
    """

    __slots__ = ("value", "id", "attempts", "_queue", "_entry", "_consumer", "settled")

    def __init__(
        self, queue: _QueueBase, consumer: _Consumer, entry: bytes, id: str, attempts: int, value: Any
    ) -> None:
        self.value = value
        self.id = id
        self.attempts = attempts
        self._queue = queue
        self._consumer = consumer
        self._entry = entry
        #: None while reserved; "acked", "nacked" or "lost" once settled by this object.
        self.settled: str | None = None

    def ack(self) -> bool:
        """Mark the message done: remove it for good and count one ``task_done()``.

        Returns True when this call finished it; False when it was no longer held
        (acked or nacked before, or its consumer's lease ran out and it was
        redelivered).  A retry after a lost reply also reports False.
        """
        return self._queue._settle(self, "ack", 0.0)

    def nack(self, delay: float = 0) -> bool:
        """Give the message back: it is delivered again (after *delay* seconds), or
        goes to the dead letters once it has been delivered ``max_attempts`` times.

        Returns True when this call gave it back; False when it was no longer held.
        """
        return self._queue._settle(self, "nack", delay)

    def __enter__(self) -> Message:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.settled is not None:
            return
        if exc_type is None:
            self.ack()
        else:
            self.nack()

    def __reduce__(self) -> Any:
        """Refused: a reservation belongs to the consumer (this process and thread)
        whose heartbeat keeps it; pass ``msg.value`` to a worker and settle here."""
        raise TypeError(
            f"a reserved Message ({self.id}) cannot be pickled: its consumer's heartbeat in this process "
            "keeps it reserved; pass msg.value to the worker and ack or nack it here"
        )

    def __repr__(self) -> str:
        state = self.settled or "reserved"
        return f"<hotsync.Message id={self.id!r} attempts={self.attempts} {state}>"


@dataclass(frozen=True)
class DeadLetter:
    """A message that was delivered ``max_attempts`` times without an ack."""

    value: Any
    id: str
    attempts: int
