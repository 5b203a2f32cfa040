"""Operations that involve two hotsync objects: where they can run, and one-trip reads.

Two objects can be combined *server-side* (one Lua script naming both keys, or
one MULTI/EXEC reading both) when they talk through the same
:class:`~hotsync.HotClient` (same server) and, on Redis Cluster, their keys
hash to the same slot.  Otherwise each object is read on its own: correct, but
not one atomic step.
"""

from __future__ import annotations

from typing import Any

from redis.crc import key_slot

from .._ops import Batch, Cmd
from ._base import Collection, raise_errors

__all__ = ["colocated", "read_together"]


def colocated(a: Collection, b: Collection) -> bool:
    """True when one script or transaction may name both objects' keys."""
    if a.client is not b.client:
        return False
    if getattr(a.client, "_cluster", False):
        return key_slot(a._main.encode()) == key_slot(b._main.encode())
    return True


def read_together(a: Collection, a_cmd: tuple[Any, ...], b: Collection, b_cmd: tuple[Any, ...]) -> tuple[Any, Any]:
    """Raw replies of one read on ``a`` and one on ``b``: one consistent round trip when colocated."""
    if colocated(a, b):
        replies = raise_errors(a.client.read(Batch((Cmd(a_cmd), Cmd(b_cmd)), transaction=True)))
        return replies[0], replies[1]
    return a.client.read(Cmd(a_cmd)), b.client.read(Cmd(b_cmd))
