"""The types each contract suite runs over, buildable by name in a spawned child.

A lock-like is anything with ``acquire(blocking, timeout)`` / ``release()`` /
context manager where one holder excludes the others: ``Lock`` and ``RLock`` (both
modes), and a semaphore of one permit (``Semaphore(1)``, ``BoundedSemaphore(1)``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import hotsync

#: name -> (build(key, client, lease) -> hotsync object, build() -> its stdlib counterpart)
LOCK_LIKE: dict[str, tuple[Callable[..., Any], Callable[[], Any]]] = {
    "Lock": (lambda key, c, lease: hotsync.Lock(key, c, lease=lease), threading.Lock),
    "Lock(fair)": (lambda key, c, lease: hotsync.Lock(key, c, lease=lease, fair=True), threading.Lock),
    "RLock": (lambda key, c, lease: hotsync.RLock(key, c, lease=lease), threading.RLock),
    "RLock(fair)": (lambda key, c, lease: hotsync.RLock(key, c, lease=lease, fair=True), threading.RLock),
    "Semaphore(1)": (lambda key, c, lease: hotsync.Semaphore(1, key, c, lease=lease), lambda: threading.Semaphore(1)),
    "Semaphore(1, fair)": (
        lambda key, c, lease: hotsync.Semaphore(1, key, c, lease=lease, fair=True),
        lambda: threading.Semaphore(1),
    ),
    "BoundedSemaphore(1)": (
        lambda key, c, lease: hotsync.BoundedSemaphore(1, key, c, lease=lease),
        lambda: threading.BoundedSemaphore(1),
    ),
}


def lock_like(kind: str, key: str, client: hotsync.HotClient, lease: float = 10.0) -> Any:
    return LOCK_LIKE[kind][0](key, client, lease)
