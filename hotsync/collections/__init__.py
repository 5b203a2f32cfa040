"""Shared-state collections: builtin-shaped objects whose operations are atomic in Redis."""

from __future__ import annotations

from .counter import Counter, MultiSet
from .dict import DefaultDict, Dict
from .number import Float, Int

__all__: list[str] = ["Dict", "DefaultDict", "Counter", "MultiSet", "Int", "Float"]
