"""Live state of every named hotsync object, read from Redis.

Named objects register themselves (once per process) in the index hash
``<prefix>hotsync:index`` (main key -> kind), so inspection never scans the
keyspace (no ``KEYS``/``SCAN``; ACLs can deny them).  :func:`inspect` reads the
index and describes each object in one round trip per object.  ``hotsync
inspect`` prints it; ``hotsync exporter`` turns it into Prometheus gauges.
"""

from __future__ import annotations

import fnmatch
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from ._keys import index_key
from ._ops import Batch, Cmd
from ._replies import pairs
from .client import HotClient
from .exceptions import ConfigConflictError, ScriptReplyError, WrongTypeError

__all__ = ["ObjectState", "inspect", "describers", "bare_client"]


@dataclass(frozen=True)
class ObjectState:
    """One object: its kind, main key, and a JSON-friendly description."""

    kind: str
    key: str
    state: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bare_client(client: HotClient) -> HotClient:
    """A client on the same connections without key prefix or metrics (keys from the index are full)."""
    return HotClient(client=client.redis, key_prefix="", metrics=False, retry=client.retry)


def _describe_lock(kind: str) -> Callable[[HotClient, str], dict[str, Any]]:
    def describe(client: HotClient, key: str) -> dict[str, Any]:
        from .lock import Lock, RLock

        cls = RLock if kind == "rlock" else Lock
        st = cls(key, client).statistics()
        return {
            "locked": st.locked,
            "holders": [{"owner": h.owner, "host": h.host, "pid": h.pid, "depth": h.depth} for h in st.holders],
            "token": st.token,
            "lease_left": st.lease_left,
            "waiting": st.waiting,
        }

    return describe


def _describe_semaphore(client: HotClient, key: str) -> dict[str, Any]:
    from ._keys import aux
    from .semaphore import BoundedSemaphore, Semaphore

    initial, kind = client.read(Cmd(("HMGET", aux(key, "meta"), "initial", "kind")))
    if initial is None:
        return {"capacity": None, "in_use": 0, "waiting": 0, "note": "no settings stored (never used)"}
    cls = BoundedSemaphore if kind == b"bounded" else Semaphore
    st = cls(int(initial), key, client).statistics()
    return {"capacity": st.capacity, "initial": st.initial, "in_use": st.in_use, "free": st.value,
            "waiting": st.waiting}


def _describe_ratelimiter(client: HotClient, key: str) -> dict[str, Any]:
    state, now = client.read(Batch((Cmd(("GET", key)), Cmd(("TIME",)))))
    if state is None:
        return {"active": False}  # idle: the key vanished with its last reservation
    tat, _at, iv, burst = struct.unpack_from("<dddd", state)
    now_us = int(now[0]) * 1_000_000 + int(now[1])
    return {"active": True, "rate": 1e6 / iv, "burst": int(burst), "backlog": max(tat - now_us, 0.0) / 1e6}


def _describe_queue(kind: str) -> Callable[[HotClient, str], dict[str, Any]]:
    def describe(client: HotClient, key: str) -> dict[str, Any]:
        from ._queue_stats import LAYOUTS, consumer_host_pid, read_statistics

        st = read_statistics(client, key, LAYOUTS[kind])  # no queue object: nothing is written
        state = st.as_dict()
        state["consumer_list"] = [
            {"consumer": c, "host": consumer_host_pid(c)[0], "pid": consumer_host_pid(c)[1], "in_flight": n,
             "expired": c in st.expired_consumers}
            for c, n in st.in_flight_by_consumer.items()
        ]
        return state

    return describe


#: kind -> function(bare client, main key) -> state dict.  Primitives add theirs here.
describers: dict[str, Callable[[HotClient, str], dict[str, Any]]] = {
    "lock": _describe_lock("lock"),
    "rlock": _describe_lock("rlock"),
    "semaphore": _describe_semaphore,
    "bounded_semaphore": _describe_semaphore,
    "ratelimiter": _describe_ratelimiter,
    **{kind: _describe_queue(kind) for kind in ("queue", "lifoqueue", "priorityqueue", "setqueue", "lifosetqueue")},
}


#: What one object's description may fail with while Redis itself answers.
_UNREADABLE = (WrongTypeError, ScriptReplyError, ConfigConflictError, ResponseError)


def inspect(client: HotClient, pattern: str | None = None) -> list[ObjectState]:
    """Describe every named object whose main key matches the glob ``pattern``.

    An object whose key cannot be read as its kind (another Redis type, foreign
    content) is listed with ``{"error": ...}`` instead of its state; a Redis that
    cannot be reached raises.
    """
    index = index_key(client.key_prefix)
    raw = client.read(Cmd(("HGETALL", index)))
    entries = sorted((k.decode(), v.decode()) for k, v in pairs(raw))
    bare = bare_client(client)
    found = []
    for key, kind in entries:
        if pattern and not fnmatch.fnmatchcase(key, pattern):
            continue
        describe = describers.get(kind)
        if describe is None:
            state: dict[str, Any] = {"error": f"unknown kind {kind!r}"}
        else:
            try:
                state = describe(bare, key)
            except _UNREADABLE as exc:
                # one object that cannot be read (its key now holds something else) must
                # not hide all the others; an unreachable Redis still raises
                state = {"error": f"{type(exc).__name__}: {exc}"}
        found.append(ObjectState(kind, key, state))
    return found
