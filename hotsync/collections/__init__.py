"""Shared-state collections: builtin-shaped objects whose operations are atomic in Redis."""

from __future__ import annotations

from .list import List
from .set import Set
from .string import ImmutableString, String

__all__: list[str] = ["List", "Set", "String", "ImmutableString"]
