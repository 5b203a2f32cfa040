"""Prometheus gauges of the live state in Redis, read at scrape time.

In-process metrics (:mod:`hotsync.metrics`) say what *this* process did.  This
collector says what Redis holds right now, for every named object in the index:
lock holders and waiters, semaphore permits, queue depth, age, in-flight and
dead letters.  A fleet runs one exporter (``hotsync exporter --redis URL --port
N``), not one per process, so these series are not duplicated.

Every gauge has the labels ``kind`` and ``name`` (the object's main key, mapped
through ``name_label`` as for in-process metrics).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .client import HotClient
from .inspect import inspect

__all__ = ["LiveStateCollector", "serve", "LIVE_METRICS", "LIVE_METRIC_NAMES"]

log = logging.getLogger("hotsync.exporter")

#: state field -> (metric name, help), per kind.  Describers in inspect.py produce the fields.
_LOCK = {
    "locked": ("hotsync_lock_held", "1 when some owner holds the lock."),
    "waiting": ("hotsync_lock_waiters", "Callers waiting for the lock."),
    "lease_left": ("hotsync_lock_lease_remaining_seconds", "Seconds until the current hold expires unless renewed."),
    "token": ("hotsync_lock_fencing_token", "The lock's fencing counter."),
}
_SEMAPHORE = {
    "capacity": ("hotsync_semaphore_capacity", "Permits the semaphore allows."),
    "in_use": ("hotsync_semaphore_permits_held", "Permits held now, across all processes."),
    "waiting": ("hotsync_semaphore_waiters", "Callers waiting for a permit for more than 25 ms."),
}
_QUEUE = {
    "depth": ("hotsync_queue_depth", "Items ready to be taken."),
    "oldest_age": ("hotsync_queue_oldest_age_seconds", "Age of the oldest ready item (0 when empty)."),
    "in_flight": ("hotsync_queue_in_flight", "Reserved messages not yet acked or nacked."),
    "dead_letters": ("hotsync_queue_dead_letters", "Messages in the dead-letter queue."),
    "delayed": ("hotsync_queue_delayed", "Items put with a delay, not yet due."),
    "unfinished": ("hotsync_queue_unfinished_tasks", "Items put and not yet task_done() (what join() waits for)."),
    "consumers": ("hotsync_queue_consumers", "Consumers with a live heartbeat."),
}
_RATELIMITER = {
    "rate": ("hotsync_ratelimit_rate", "Configured admissions per second."),
}

LIVE_METRICS: dict[str, dict[str, tuple[str, str]]] = {
    "lock": _LOCK,
    "rlock": _LOCK,
    "semaphore": _SEMAPHORE,
    "bounded_semaphore": _SEMAPHORE,
    "queue": _QUEUE,
    "lifoqueue": _QUEUE,
    "priorityqueue": _QUEUE,
    "setqueue": _QUEUE,
    "lifosetqueue": _QUEUE,
    "ratelimiter": _RATELIMITER,
}

#: Every family this collector can export (dashboards are checked against it).
LIVE_METRIC_NAMES = tuple(sorted({name for table in LIVE_METRICS.values() for name, _ in table.values()})) + (
    "hotsync_exporter_objects",
    "hotsync_exporter_scrape_seconds",
    "hotsync_exporter_up",
)


class LiveStateCollector(Collector):
    """A prometheus_client collector reading hotsync's state from Redis when scraped."""

    def __init__(
        self, client: HotClient, pattern: str | None = None, name_label: bool | Callable[[str], str] = True
    ) -> None:
        self.client = client
        self.pattern = pattern
        if name_label is True:
            self._name: Callable[[str], str] = lambda n: n
        elif name_label is False:
            self._name = lambda n: "-"
        else:
            self._name = name_label

    def collect(self) -> Iterator[Any]:
        start = time.perf_counter()
        families: dict[str, GaugeMetricFamily] = {}
        counts: dict[str, int] = {}
        up = 1
        try:
            states = inspect(self.client, self.pattern)
        except Exception:  # noqa: BLE001 - a scrape must answer, with up=0
            log.exception("hotsync exporter could not read Redis")
            states, up = [], 0
        for obj in states:
            counts[obj.kind] = counts.get(obj.kind, 0) + 1
            for field, (metric, help_text) in LIVE_METRICS.get(obj.kind, {}).items():
                value = obj.state.get(field)
                if value is None:
                    continue
                family = families.get(metric)
                if family is None:
                    family = families[metric] = GaugeMetricFamily(metric, help_text, labels=["kind", "name"])
                family.add_metric([obj.kind, self._name(obj.key)], float(value))
        yield from families.values()
        objects = GaugeMetricFamily("hotsync_exporter_objects", "Named objects in the index, by kind.", labels=["kind"])
        for kind, n in sorted(counts.items()):
            objects.add_metric([kind], n)
        yield objects
        yield GaugeMetricFamily("hotsync_exporter_up", "1 when the last scrape could read Redis.", value=up)
        yield GaugeMetricFamily(
            "hotsync_exporter_scrape_seconds", "Time the last scrape spent reading Redis.",
            value=time.perf_counter() - start)


def serve(client: HotClient, port: int, addr: str = "127.0.0.1", pattern: str | None = None,
          stop: threading.Event | None = None) -> None:
    """Serve the collector on ``addr:port`` (``/metrics``) until ``stop`` is set (or forever)."""
    registry = CollectorRegistry()
    registry.register(LiveStateCollector(client, pattern))
    server, thread = start_http_server(port, addr, registry=registry)
    try:
        (stop or threading.Event()).wait()
    finally:
        server.shutdown()
        thread.join(5)
