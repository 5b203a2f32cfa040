"""Dashboards and metrics must not drift apart."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hotsync.exporter import LIVE_METRIC_NAMES
from hotsync.metrics import METRIC_NAMES

DASHBOARDS = sorted((Path(__file__).resolve().parent.parent / "grafana" / "dashboards").glob("*.json"))

#: Exported on purpose but not charted (inspect/alerting material); adding a metric means
#: charting it or listing it here.
NOT_CHARTED = {
    "hotsync_fencing_token",
    "hotsync_permits_in_use",
    "hotsync_lock_lease_remaining_seconds",
    "hotsync_lock_fencing_token",
    "hotsync_semaphore_waiters",
    "hotsync_queue_delayed",
    "hotsync_queue_unfinished_tasks",
    "hotsync_queue_consumers",
    "hotsync_ratelimit_rate",
    "hotsync_exporter_objects",
    "hotsync_exporter_scrape_seconds",
}


def expressions():
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield path.name, panel["title"], target["expr"]


def family(name: str) -> str:
    return re.sub(r"_(bucket|count|sum)$", "", name)


def test_there_is_a_dashboard_with_panels():
    assert DASHBOARDS and len(list(expressions())) >= 20


def test_every_metric_a_dashboard_queries_exists():
    known = set(METRIC_NAMES) | set(LIVE_METRIC_NAMES)
    for dash, title, expr in expressions():
        for name in re.findall(r"hotsync_[a-z_]+", expr):
            assert family(name) in known or name in known, f"{dash} / {title}: unknown metric {name}"


def test_every_exported_metric_is_charted_or_deliberately_not():
    used = {family(n) for _, _, e in expressions() for n in re.findall(r"hotsync_[a-z_]+", e)}
    exported = set(METRIC_NAMES) | set(LIVE_METRIC_NAMES)
    assert exported - used - NOT_CHARTED == set()
    assert NOT_CHARTED <= exported


def test_dashboard_uses_only_its_declared_variables():
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        declared = {v["name"] for v in dash["templating"]["list"]} | {"__rate_interval", "__interval"}
        for _, _, expr in expressions():
            for var in re.findall(r"\$(\w+)", expr):
                assert var in declared
