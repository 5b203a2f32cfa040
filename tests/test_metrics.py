"""Metrics: declared once per registry, injectable, switchable, cardinality controllable."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

import hotsync
from hotsync.metrics import METRIC_ATTRS, METRIC_NAMES, NullMetrics, get_metrics


def test_many_clients_share_one_registry_without_duplicate_registration(redis_url):
    registry = CollectorRegistry()
    a = hotsync.HotClient.from_url(redis_url, metrics=registry)
    b = hotsync.HotClient.from_url(redis_url, metrics=registry)
    assert a.metrics is b.metrics is get_metrics(registry)
    names = {m.name for m in registry.collect()}
    assert {n.removesuffix("_total") for n in METRIC_NAMES} <= names


def test_metrics_can_be_switched_off(redis_url, prefix):
    c = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=False)
    assert isinstance(c.metrics, NullMetrics)
    with hotsync.Lock("off", c):
        pass
    for attr in METRIC_ATTRS:
        assert getattr(c.metrics, attr).labels("x").inc() is None


def test_name_label_can_be_dropped_or_mapped(redis_url, prefix):
    for name_label, expected in ((False, "-"), (lambda key: key.split(":")[0], "tenant")):
        registry = CollectorRegistry()
        c = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=registry, name_label=name_label)
        with hotsync.Lock("tenant:42:migrate", c):
            pass
        assert registry.get_sample_value(
            "hotsync_acquisitions_total", {"kind": "lock", "name": expected, "outcome": "acquired"}) == 1


def test_retries_are_counted_by_error_class():
    import pytest
    import redis

    registry = CollectorRegistry()
    c = hotsync.HotClient.from_url("redis://127.0.0.1:1/0", metrics=registry,
                                   retry=hotsync.RetryPolicy(budget=0.3, initial=0.01, maximum=0.05))
    assert registry.get_sample_value("hotsync_redis_retries_total", {"error": "ConnectionError"}) == 0
    with pytest.raises(redis.ConnectionError):
        hotsync.Lock("r", c).acquire()
    assert registry.get_sample_value("hotsync_redis_retries_total", {"error": "ConnectionError"}) >= 2
