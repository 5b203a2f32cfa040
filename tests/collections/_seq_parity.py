"""Side-by-side helpers: run an operation on the builtin and on the hotsync object, compare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def outcome(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """("ok", result) or (exception type, message)."""
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - compared by the caller
        return (type(exc), str(exc))


def same(std_fn: Callable[[], Any], hot_fn: Callable[[], Any]) -> Any:
    """Assert both calls return equal results or raise the same exception type and message."""
    std, hot = outcome(std_fn), outcome(hot_fn)
    if std[0] != "ok" or hot[0] != "ok":
        assert std[0] != "ok" and hot[0] != "ok", (std, hot)
        assert issubclass(hot[0], std[0]), (std, hot)
        assert std[1] == hot[1], (std, hot)
        return None
    assert std[1] == hot[1], (std, hot)
    return std[1]
