"""Index and slice arguments of sequence collections, checked exactly as ``list`` checks them.

The checks run the builtin itself on an empty probe (``[][i]``, ``[].pop(i)``,
``[][a:b:c]``...), so the exception types and messages are the interpreter's
own.  What passes is turned into plain ints that Redis and Lua can use: bounds
are clamped to ``±BIG``, which is larger than any Redis list or string and still
exact in Lua's double-precision numbers, so clamping never changes a result.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

__all__ = ["BIG", "clamp", "index_arg", "slice_args"]

#: Larger than any Redis list or string length (2**32), exact as a Lua number.
BIG = 2**53


def clamp(i: int) -> int:
    return -BIG if i < -BIG else BIG if i > BIG else i


def index_arg(i: Any, probe: Callable[[Any], object], ok: str) -> int:
    """``i`` as a clamped int after ``probe(i)`` validated it like the builtin.

    ``probe`` runs the builtin operation on an empty object; it raises the
    builtin's TypeError/OverflowError for bad arguments, and an IndexError whose
    message is ``ok`` for every acceptable index (anything else is re-raised).
    """
    if type(i) is int and -BIG < i < BIG:
        return i
    try:
        probe(i)
    except IndexError as exc:
        if str(exc) != ok:
            raise
    return clamp(operator.index(i))


def slice_args(sl: slice, probe: Callable[[slice], object] = lambda s: [][s]) -> tuple[int, int, int]:
    """``(start, stop, step)`` of ``sl`` as clamped ints, checked like ``list`` does.

    ``None`` bounds become the far end for the step's direction (``BIG`` /
    ``-BIG``), so the server resolves them with CPython's
    ``PySlice_AdjustIndices`` rules once it knows the length.
    """
    probe(sl)  # TypeError for bad bounds, ValueError for a zero step
    step = 1 if sl.step is None else clamp(operator.index(sl.step))
    if sl.start is None:
        start = BIG if step < 0 else 0
    else:
        start = clamp(operator.index(sl.start))
    if sl.stop is None:
        stop = -BIG if step < 0 else BIG
    else:
        stop = clamp(operator.index(sl.stop))
    return start, stop, step
