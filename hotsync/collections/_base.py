"""What every shared-state collection has in common.

A collection is a view of one Redis key (exactly ``key`` after the client's
prefix, so other clients can read it).  It keeps no local copy: every method is
one native command or one Lua script, so every operation is atomic across
hosts.  Writes go through :meth:`_write` so that ``transaction()`` can batch
them; reads go through :meth:`_read`, which refuses to run inside a transaction
of the same client (its writes are not applied yet).
"""

from __future__ import annotations

import copy

from collections.abc import Iterable
from typing import Any, ClassVar

from .._ops import Batch, Call, Cmd, Eval
from .._pickling import rebuild
from .._replies import raise_errors
from .._scripts import Script
from ..client import HotClient, default_client
from ..codecs import Codec, get_codec

__all__ = ["Collection", "CHUNK", "ValueConversions", "raise_errors"]

#: Most values sent in one command or unpacked in Lua at a time (Lua's stack
#: limit is ~8,000; Redis arguments are not unbounded either).
CHUNK = 1000


class ValueConversions:
    """``int()``, ``float()`` and ``complex()`` of a collection that has a ``value``:
    the builtin applied to the current value (one read), with the builtin's errors.
    Shared by the numbers (``Int``, ``Float``) and the strings, which parse their text
    as the builtins parse a ``str``."""

    value: Any

    def __int__(self) -> int:
        return int(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __complex__(self) -> complex:
        return complex(self.value)


class Collection:
    """Base of the collections: client, key, codec, reads and writes.

    Subclasses set ``_kind`` (used for generated keys) and implement the
    ``value`` property (a plain Python copy; assigning it replaces atomically
    and keeps a TTL set on the key, like ``SET ... KEEPTTL``).
    """

    _kind: ClassVar[str] = "collection"
    __hash__ = None  # type: ignore[assignment]  # mutable, shared: unhashable like the builtins

    def __init__(
        self,
        initial: Any = None,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        codec: str | Codec | None = None,
    ) -> None:
        self._client = client if client is not None else default_client()
        self.key, self._main = self._client.key_for(key, self._kind)
        self._codec = self._client.codec if codec is None else get_codec(codec)
        if initial is not None:
            self.value = initial

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as a handle: the copy is a new object on the same key that writes
        nothing when it is made (no ``initial``), so it sees the value as it is then
        (see :mod:`hotsync._pickling`)."""
        return rebuild, (type(self), self._handle_args(), self._handle_kwargs())

    def _handle_args(self) -> tuple[Any, ...]:
        """Positional constructor arguments of a copy made by unpickling."""
        return (None, self.key, self._client)

    def _handle_kwargs(self) -> dict[str, Any]:
        """Keyword constructor arguments of a copy made by unpickling."""
        return {"codec": self._codec}

    # -- plumbing --------------------------------------------------------

    @property
    def client(self) -> HotClient:
        """The :class:`~hotsync.HotClient` this object talks through."""
        return self._client

    def _enc(self, value: Any) -> bytes:
        return self._codec.dumps(value)

    def _dec(self, data: bytes | None) -> Any:
        return None if data is None else self._codec.loads(data)

    def _read(self, *args: Any) -> Any:
        """One native read command on this object's key (or keys named in args)."""
        return self._client.read(Cmd(args))

    def _write(self, *args: Any, idempotent: bool = True) -> Any:
        """One native write command; queued when a transaction() is open."""
        return self._client.write(Cmd(args, idempotent=idempotent))

    def _eval_read(self, script: Script, keys: Iterable[str], args: Iterable[Any]) -> Any:
        return self._client.read(Eval(script, tuple(keys), tuple(args)))

    def _eval_write(self, script: Script, keys: Iterable[str], args: Iterable[Any], *, idempotent: bool = True) -> Any:
        return self._client.write(Eval(script, tuple(keys), tuple(args), idempotent=idempotent))

    def _read_many(self, *calls: Cmd) -> list[Any]:
        """Several reads in one MULTI/EXEC: one round trip, one instant."""
        return raise_errors(self._client.read(Batch(calls, transaction=True)))

    def _atomic(self, calls: Iterable[Call], *, idempotent: bool = True) -> Any:
        """Several writes applied together (MULTI/EXEC); an error reply inside EXEC is raised.

        EXEC does not stop at a failing command: the others still apply.  Use it
        only for writes that cannot fail once queued; never to delete and then
        rebuild a value (build it in a temporary key and RENAME it in Lua instead).
        Inside ``transaction()`` the calls join it and None is returned.
        """
        replies = self._client.write(Batch(tuple(calls), idempotent=idempotent, transaction=True))
        return None if replies is None else raise_errors(replies)

    # -- shared behaviour --------------------------------------------------

    @property
    def value(self) -> Any:
        raise NotImplementedError

    @value.setter
    def value(self, new: Any) -> None:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Collection):
            other = other.value
        return self.value == other

    def __copy__(self) -> Any:
        """``copy.copy(obj)``: a plain Python snapshot of the value (as ``obj.value``),
        independent of the key, as a builtin's copy is of the original; not a second
        handle on the same key (that is ``type(obj)(key=obj.key)``)."""
        return self.value

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        """``copy.deepcopy(obj)``: a deep copy of the plain value."""
        return copy.deepcopy(self.value, memo)

    def __repr__(self) -> str:
        return f"<hotsync.{type(self).__name__} key={self.key!r}>"
