"""Normalizing raw Redis replies that differ between RESP2 and RESP3."""

from __future__ import annotations

from typing import Any

__all__ = ["pairs", "raise_errors"]


def pairs(reply: Any) -> list[tuple[Any, Any]]:
    """A map reply (HGETALL, ...) as (field, value) pairs: RESP2 flat list or RESP3 dict."""
    if isinstance(reply, dict):
        return list(reply.items())
    return list(zip(reply[::2], reply[1::2]))


def raise_errors(replies: list[Any]) -> list[Any]:
    """Raise the first error reply of a batch (the client already translated it); else return the replies."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
