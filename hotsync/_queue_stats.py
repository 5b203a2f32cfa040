"""A queue's live state, read from Redis: :meth:`Queue.statistics` and ``hotsync inspect``.

One read-only script (``lua/queue_stats.lua``) reads everything but the in-flight
lists of consumers it has not been told about: Lua may not build key names, so
the consumers' ids come back and their lists are counted in a second round trip.
The ids seen last time are remembered per queue and passed in, so a steady set
of consumers costs one round trip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from . import _keys
from ._ops import Batch, Cmd, Eval
from ._scripts import script
from .client import HotClient

__all__ = ["QueueStatistics", "read_statistics", "LAYOUTS", "consumer_host_pid"]

_STATS = script("queue_stats")

#: queue kind (as registered in the index) -> how its waiting items are stored
LAYOUTS = {"queue": "list", "lifoqueue": "list", "priorityqueue": "pq", "setqueue": "fifo", "lifosetqueue": "lifo"}

_known: dict[str, tuple[str, ...]] = {}  # main key -> consumer ids seen by the last read


@dataclass(frozen=True)
class QueueStatistics:
    """A snapshot of a queue, read from Redis (it may change before you act on it).

    Attributes:
        depth: items ready to be taken now: waiting items plus delayed ones already
            due (wake markers are not items).
        oldest_age: seconds the oldest ready item has waited (server clock), 0.0
            when there is none.  An item's wait starts when it is put (a delayed
            one: when it falls due; a replayed dead letter: at the replay) and a
            redelivery does not restart it.
        in_flight: messages reserved and not yet acked or nacked, all consumers.
        in_flight_by_consumer: consumer id -> its in-flight messages, for every
            registered consumer.  An id reads ``host/pid/process/object/thread``
            (see :func:`consumer_host_pid`).
        consumers: consumers whose heartbeat is live.
        expired_consumers: registered consumers whose heartbeat ran out: their
            messages go back to the queue at the next reap.
        dead_letters: messages in the dead-letter list.
        delayed: items put with a delay that is not over yet.
        unfinished: items put and not yet done (what ``join()`` waits for).
        maxsize: the bound stored for the key (0: unbounded).
        shutdown: ``shutdown()`` was called.
    """

    depth: int
    oldest_age: float
    in_flight: int
    in_flight_by_consumer: dict[str, int] = field(hash=False)
    consumers: int
    expired_consumers: tuple[str, ...]
    dead_letters: int
    delayed: int
    unfinished: int
    maxsize: int
    shutdown: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the fields."""
        out = asdict(self)
        out["expired_consumers"] = list(self.expired_consumers)
        return out


def consumer_host_pid(consumer: str) -> tuple[str, int | None]:
    """The host and pid a consumer id names (``host/pid/...``)."""
    parts = consumer.split("/")
    pid = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return parts[0], pid


def read_statistics(client: HotClient, main: str, layout: str) -> QueueStatistics:
    """Read the statistics of the queue whose main key is *main* (layout: see ``LAYOUTS``)."""
    k = lambda s: _keys.aux(main, s)  # noqa: E731
    known = _known.get(main, ())[:1000]
    keys = (main, k("meta"), k("delayed"), k("consumers"), k("dead"), *(k(f"inflight:{c}") for c in known))
    reply = client.read(Eval(_STATS, keys, (layout,)))
    now, depth, oldest, delayed, dead, unfinished, maxsize, shut, live = (int(x) for x in reply[:9])
    counts = dict(zip(known, (int(x) for x in reply[9:9 + len(known)])))
    flat = reply[9 + len(known):]
    ids = [flat[i].decode() for i in range(0, len(flat), 2)]
    expired = tuple(ids[i // 2] for i in range(0, len(flat), 2) if float(flat[i + 1]) <= now)
    missing = [c for c in ids if c not in counts]
    if missing:
        more = client.read(Batch(tuple(Cmd(("LLEN", k(f"inflight:{c}"))) for c in missing)))
        counts.update(zip(missing, (int(x) for x in more)))
    if len(_known) > 4096:
        _known.clear()
    _known[main] = tuple(ids)
    by_consumer = {c: counts[c] for c in ids}
    return QueueStatistics(
        depth=depth,
        oldest_age=max(now - oldest, 0) / 1000.0 if oldest >= 0 else 0.0,
        in_flight=sum(by_consumer.values()),
        in_flight_by_consumer=by_consumer,
        consumers=live,
        expired_consumers=expired,
        dead_letters=dead,
        delayed=delayed,
        unfinished=unfinished,
        maxsize=maxsize,
        shutdown=bool(shut),
    )
