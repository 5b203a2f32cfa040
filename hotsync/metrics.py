"""Every Prometheus metric hotsync exports, declared once per registry.

Names follow Prometheus conventions: ``hotsync_`` prefix, base units (seconds),
``_total`` on counters.  Labels:

* ``kind``: ``lock``, ``rlock``, ``semaphore``, ``bounded_semaphore``,
  ``ratelimiter``, ``queue``, ``lifoqueue``, ``priorityqueue``, ``setqueue``,
  ``lifosetqueue``;
* ``name``: the object's key, mapped through ``name_label`` (``True``: the key
  itself; ``False``: the constant ``"-"``; a callable: your mapping, e.g. to cut
  ids out of keys).  Keys are user-chosen, so with many distinct keys turn it
  off or map it: each distinct value is a new time series;
* ``outcome`` / ``decision`` / ``op`` / ``reason`` / ``error``: small fixed sets.

Use :func:`get_metrics` to obtain the (cached) metric set of a registry, or
``metrics=False`` on :class:`~hotsync.HotClient` to switch instrumentation off.
Tests use a fresh ``CollectorRegistry`` per test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "NullMetrics", "get_metrics", "METRIC_NAMES"]

#: Wait-time buckets: sub-millisecond hand-offs up to long blocking waits.
WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: Hold-time buckets: short critical sections up to long leader terms.
HOLD_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600)


class Metrics:
    """The metric objects of one registry.  Build with :func:`get_metrics`."""

    enabled = True

    def __init__(self, registry: CollectorRegistry, name_label: bool | Callable[[str], str] = True) -> None:
        self.registry = registry
        if name_label is True:
            self.name = _identity
        elif name_label is False:
            self.name = _dash
        else:
            self.name = name_label
        r = registry
        kn = ("kind", "name")
        self.acquire_wait = Histogram(
            "hotsync_acquire_wait_seconds",
            "Time spent in acquire() of locks and semaphores, by outcome.",
            (*kn, "outcome"), buckets=WAIT_BUCKETS, registry=r)
        self.acquisitions = Counter(
            "hotsync_acquisitions_total",
            "acquire() calls of locks and semaphores by outcome (acquired, timeout, busy).",
            (*kn, "outcome"), registry=r)
        self.hold = Histogram(
            "hotsync_hold_seconds", "Time a lock or permit was held, from acquire to release.",
            kn, buckets=HOLD_BUCKETS, registry=r)
        self.renewals = Counter(
            "hotsync_lease_renewals_total",
            "Lease renewals by the process's renewal scheduler, by outcome (ok, failed).",
            (*kn, "outcome"), registry=r)
        self.leases_lost = Counter(
            "hotsync_leases_lost_total",
            "Holds lost before release, by reason (expired, unreachable).",
            (*kn, "reason"), registry=r)
        self.fencing_token = Gauge(
            "hotsync_fencing_token", "Fencing token of the last hold taken by this process.",
            kn, registry=r)
        self.fencing_jumps = Counter(
            "hotsync_fencing_token_jumps_total",
            "Fencing-token increments between two holds of this process (holds by others).",
            kn, registry=r)
        self.permits_in_use = Gauge(
            "hotsync_permits_in_use", "Semaphore permits held by this process.", kn, registry=r)
        self.ratelimit_decisions = Counter(
            "hotsync_ratelimit_decisions_total", "Rate limiter decisions (admitted, rejected).",
            ("name", "decision"), registry=r)
        self.queue_ops = Counter(
            "hotsync_queue_operations_total",
            "Queue operations: put, get, reserve, ack, nack, redelivered, dead_lettered, replayed.",
            (*kn, "op"), registry=r)
        self.retries = Counter(
            "hotsync_redis_retries_total", "Redis commands retried by hotsync, by error class.",
            ("error",), registry=r)
        self.script_loads = Counter(
            "hotsync_script_loads_total", "Lua scripts (re)loaded after NOSCRIPT.", registry=r)
        for error in ("ConnectionError", "TimeoutError", "BusyLoadingError", "ReadOnlyError", "ResponseError"):
            self.retries.labels(error)  # present at 0 before the first retry


class _NullChild:
    __slots__ = ()

    def labels(self, *a: Any, **k: Any) -> _NullChild:
        return self

    def inc(self, *a: Any, **k: Any) -> None:
        pass

    def dec(self, *a: Any, **k: Any) -> None:
        pass

    def set(self, *a: Any, **k: Any) -> None:
        pass

    def observe(self, *a: Any, **k: Any) -> None:
        pass


class NullMetrics:
    """Instrumentation switched off: every metric is a no-op."""

    enabled = False
    registry = None

    def __init__(self) -> None:
        null = _NullChild()
        self.name = _identity
        for attr in METRIC_ATTRS:
            setattr(self, attr, null)


METRIC_ATTRS = (
    "acquire_wait", "acquisitions", "hold", "renewals", "leases_lost", "fencing_token",
    "fencing_jumps", "permits_in_use", "ratelimit_decisions", "queue_ops", "retries", "script_loads",
)

#: Every exported metric family name (dashboards are checked against this).
METRIC_NAMES = (
    "hotsync_acquire_wait_seconds", "hotsync_acquisitions_total", "hotsync_hold_seconds",
    "hotsync_lease_renewals_total", "hotsync_leases_lost_total", "hotsync_fencing_token",
    "hotsync_fencing_token_jumps_total", "hotsync_permits_in_use", "hotsync_ratelimit_decisions_total",
    "hotsync_queue_operations_total", "hotsync_redis_retries_total", "hotsync_script_loads_total",
)


def _identity(name: str) -> str:
    return name


def _dash(name: str) -> str:
    return "-"


_lock = threading.Lock()
_by_registry: dict[int, tuple[CollectorRegistry, Metrics]] = {}


def get_metrics(
    registry: CollectorRegistry | None = None, *, name_label: bool | Callable[[str], str] = True
) -> Metrics:
    """The metric set of ``registry`` (default: prometheus_client's global one).

    Metrics are declared the first time a registry is seen and reused afterwards,
    so any number of clients can share a registry.  ``name_label`` applies when
    the registry is first seen.
    """
    registry = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(id(registry))
        if found is None or found[0] is not registry:
            found = (registry, Metrics(registry, name_label))
            _by_registry[id(registry)] = found
        return found[1]
