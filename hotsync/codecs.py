"""Value serialization: how Python values become Redis strings and back.

* ``"json"`` (default): ``int``, ``float``, ``bool``, ``None``, ``str``, ``list``
  and ``dict`` (str keys) round-trip with their types; numbers are stored as
  plain decimal text, so ``INCRBY``/``INCRBYFLOAT`` keep working on them and
  other clients can read them.  Tuples come back as lists.
* ``"str"``: hot-redis compatible: values are stored as ``str(value)`` and come
  back as ``str``.
* ``"bytes"``: ``bytes`` in, ``bytes`` out, unchanged.
* ``"pickle"``: any picklable object.  **Opt-in only**: unpickling runs code
  chosen by whoever can write to the key, so never use it with untrusted writers.
* any object with ``dumps(value) -> bytes`` and ``loads(bytes) -> value``.

A value the codec cannot encode raises ``TypeError`` before anything is written.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol, runtime_checkable

__all__ = ["Codec", "JsonCodec", "StrCodec", "BytesCodec", "PickleCodec", "get_codec"]


@runtime_checkable
class Codec(Protocol):
    """What hotsync needs from a codec."""

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class JsonCodec:
    """Compact JSON (UTF-8).  The default."""

    name = "json"

    def __init__(self) -> None:
        self._enc = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=True)

    def dumps(self, value: Any) -> bytes:
        try:
            return self._enc.encode(value).encode()
        except (TypeError, ValueError) as exc:  # incl. UnicodeEncodeError (lone surrogates)
            raise TypeError(
                f"cannot encode {type(value).__name__} value as JSON: {exc} "
                "(use codec='pickle' or a custom codec for other types)"
            ) from None

    def loads(self, data: bytes) -> Any:
        return json.loads(data.decode())  # always UTF-8: skips json's encoding detection


class StrCodec:
    """``str(value)`` in, ``str`` out (hot-redis behaviour)."""

    name = "str"

    def dumps(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        return str(value).encode()

    def loads(self, data: bytes) -> Any:
        return data.decode()


class BytesCodec:
    """``bytes`` in, ``bytes`` out, unchanged."""

    name = "bytes"

    def dumps(self, value: Any) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise TypeError(f"codec 'bytes' stores bytes, not {type(value).__name__}")

    def loads(self, data: bytes) -> Any:
        return data


class PickleCodec:
    """Pickle.  Unsafe with untrusted writers: loading runs their code."""

    name = "pickle"

    def dumps(self, value: Any) -> bytes:
        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise TypeError(f"cannot pickle {type(value).__name__} value: {exc}") from None

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)  # noqa: S301 - opt-in, documented


_BUILTIN = {"json": JsonCodec, "str": StrCodec, "bytes": BytesCodec, "pickle": PickleCodec}
_CACHE: dict[str, Codec] = {}


def get_codec(codec: str | Codec | None) -> Codec:
    """Resolve a codec name or object; None means JSON."""
    if codec is None:
        codec = "json"
    if isinstance(codec, str):
        try:
            found = _CACHE.get(codec)
            if found is None:
                found = _CACHE[codec] = _BUILTIN[codec]()
            return found
        except KeyError:
            raise ValueError(f"unknown codec {codec!r}; choose one of {sorted(_BUILTIN)}") from None
    if not (callable(getattr(codec, "dumps", None)) and callable(getattr(codec, "loads", None))):
        raise TypeError("codec must be a name or an object with dumps() and loads()")
    return codec
