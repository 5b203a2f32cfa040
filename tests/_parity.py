"""Running the stdlib and hotsync side by side: same results, or same errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def outcome(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """``("ok", result)`` or ``(exception type, message)``."""
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001
        return (type(exc), str(exc))


def same(std_fn: Callable[[], Any], hot_fn: Callable[[], Any], *, ignore_message_of: tuple[type, ...] = ()) -> Any:
    """Both calls give the same result, or raise the same type (hotsync: or a subclass) and message.

    ``ignore_message_of``: stdlib exception types whose message is not compared
    (``queue.Empty`` has none; hotsync's names the queue).  Returns the stdlib outcome.
    """
    std, hot = outcome(std_fn), outcome(hot_fn)
    if std[0] != "ok" and hot[0] != "ok":
        assert issubclass(hot[0], std[0]), (std, hot)
        if std[0] not in ignore_message_of:
            assert std[1] == hot[1], (std, hot)
    else:
        assert std == hot
    return std


def in_another_thread(std_fn: Callable[[], Any], hot_fn: Callable[[], Any]) -> tuple[Any, Any]:
    """The outcomes of both calls, made one after the other in a second thread."""
    results: dict[str, Any] = {}

    def run() -> None:
        results["std"] = outcome(std_fn)
        results["hot"] = outcome(hot_fn)

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert not t.is_alive(), "the other thread is still blocked"
    return results["std"], results["hot"]
