"""Normalizing raw Redis replies that differ between RESP2 and RESP3."""

from __future__ import annotations

from typing import Any

__all__ = ["pairs"]


def pairs(reply: Any) -> list[tuple[Any, Any]]:
    """A map reply (HGETALL, ...) as (field, value) pairs: RESP2 flat list or RESP3 dict."""
    if isinstance(reply, dict):
        return list(reply.items())
    return list(zip(reply[::2], reply[1::2]))
