"""Shared-state collections: builtin-shaped objects whose operations are atomic in Redis."""

from __future__ import annotations

__all__: list[str] = []
