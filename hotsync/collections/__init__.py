"""Shared-state collections: builtin-shaped objects whose operations are atomic in Redis."""

from __future__ import annotations

from .counter import Counter, MultiSet
from .dict import DefaultDict, Dict
from .list import List
from .number import Float, Int
from .set import Set
from .string import ImmutableString, String

__all__: list[str] = [
    "List", "Set", "Dict", "DefaultDict", "Counter", "MultiSet", "String", "ImmutableString", "Int", "Float",
]
