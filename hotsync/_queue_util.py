"""What the parts of a queue share: argument checks, the consumer record, the fast-path window.

:class:`hotsync.queue._QueueBase` is assembled from :mod:`hotsync._queue_put`
(put, sizes, ``task_done``/``join``/``shutdown``), :mod:`hotsync._queue_take`
(get, and the wait loop every take runs) and :mod:`hotsync._queue_reliable`
(reserve, ack, heartbeats, dead letters); the key schema is in
:mod:`hotsync.queue`'s docstring.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from ._renewal import Lease, process_token
from ._scripts import script

__all__: list[str] = []

_HEARTBEAT = script("queue_heartbeat")
#: Seconds a getter trusts the last "nothing delayed, not shut down" answer of the
#: prepare script and pops natively without it (the fast path).  It bounds how late a
#: getter that was not told (see wake markers) notices a delayed item or a shutdown.
_CALM = 1.0


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
