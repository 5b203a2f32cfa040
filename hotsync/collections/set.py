"""Set: Python's ``set`` kept in one Redis set; every operation atomic.

Keys (``K`` is the main key, see :mod:`hotsync._keys`):

============  =====  ===============================================================
key           type   contents / lifetime
============  =====  ===============================================================
``K``         set    the codec-encoded members; absent when the set is empty
``{K}:tmp``   set    scratch of ``set_replace.lua`` (assigning ``.value``), renamed
                     over ``K`` at its end; exists only while it runs
============  =====  ===============================================================

Which Redis call each operation is (one round trip each): ``add``: SADD;
``discard``/``remove``: SREM; ``pop``: SPOP; ``in``: SISMEMBER; ``len``: SCARD;
iteration/``.value``/``copy``: SMEMBERS; ``update``/``-=`` with plain operands:
SADD/SREM; ``union``/``intersection``/``difference`` with hotsync Sets:
SUNION/SINTER/SDIFF; every other in-place operation and ``.value =``/``clear``:
one Lua script (``lua/set_*.lua``); comparisons with a hotsync Set:
``set_compare.lua``.

Server-side or client-side: an operand that is a hotsync :class:`Set` on the
same :class:`~hotsync.HotClient`, with the same codec and (on Redis Cluster)
in the same hash slot is combined by Redis itself, atomically with this set.
Any other operand (a Python set or iterable, or a hotsync Set elsewhere) is
read on the client first (a snapshot, for a Set elsewhere) and its members are
sent along; in-place operations are still one atomic script or command.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet
from collections.abc import Set as AbstractSet
from typing import Any

import redis
from redis.cluster import key_slot

from .._keys import aux
from .._ops import Cmd
from .._scripts import script
from ..client import HotClient
from ..codecs import Codec
from ..exceptions import WrongTypeError
from ._base import Collection

__all__ = ["Set"]

_REPLACE = script("set_replace")
_UPDATE = script("set_update")
_INTERSECTION_UPDATE = script("set_intersection_update")
_DIFFERENCE_UPDATE = script("set_difference_update")
_SYMMETRIC_DIFFERENCE_UPDATE = script("set_symmetric_difference_update")
_COMPARE = script("set_compare")


def _freeze(value: Any) -> Any:
    """Decoded members must be hashable: JSON arrays come back as tuples."""
    if type(value) is list:
        return tuple(_freeze(v) for v in value)
    return value


def _one_argument(name: str, args: tuple[Any, ...]) -> Any:
    if len(args) != 1:
        raise TypeError(f"set.{name}() takes exactly one argument ({len(args)} given)")
    return args[0]


class Set(Collection, MutableSet):
    """A ``set`` shared by every process that uses the same key.

    Model: the members live in one Redis set, encoded by the codec (JSON by
    default, so ``Set({1, "1"})`` holds two members and ``1 in s`` is exact).
    Each method is one atomic Redis command or script; algebra with another
    hotsync Set in the same slot runs inside Redis (see the module docstring).

    Distributed semantics:
        * ``add``, ``discard``, ``remove``, ``pop`` and every ``*_update`` /
          in-place operator are atomic: concurrent writers from many hosts
          never lose a member.
        * Non-mutating algebra (``|``, ``union``...) returns a plain ``set``;
          with hotsync Sets in the same slot it is computed by Redis at one
          instant, otherwise from snapshots.
        * Inside ``transaction()`` writes are queued and return None (``pop``
          too); ``remove`` of a missing member then does nothing.  Reads, and
          operations that must read an operand first, raise
          :class:`~hotsync.TransactionError`.

    Differences from ``set``:
        * Members are compared by their encoded form: ``1``, ``1.0`` and
          ``True`` are three members with JSON, one in a Python set.
        * Members must be hashable (checked as ``set`` does) and encodable;
          JSON arrays come back as tuples, so ``Set({(1, 2)}) == {(1, 2)}``.
        * ``copy()`` and the operators return plain ``set`` objects; the
          object is unhashable, like ``set``.

    Example::

        seen = Set(key="seen")
        if "job-7" not in seen:
            seen.add("job-7")
        seen |= {"job-8", "job-9"}        # one SADD
        common = seen & Set(key="done")   # SINTER when both are in one slot
    """

    _kind = "set"

    def __init__(
        self,
        initial: Iterable[Any] | None = None,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        codec: str | Codec | None = None,
    ) -> None:
        super().__init__(None, key, client, codec=codec)
        self._tmp = aux(self._main, "tmp")
        if initial is not None:
            self.value = initial

    # -- helpers -----------------------------------------------------------------

    def _loads(self, raw: Iterable[bytes]) -> set[Any]:
        loads = self._codec.loads
        return {_freeze(loads(m)) for m in raw}

    def _encode_all(self, values: Iterable[Any]) -> list[bytes]:
        """Distinct encoded members of ``values`` (hashability checked like ``set``)."""
        enc = self._enc
        return list({enc(v) for v in set(values)})

    def _encode_known(self, values: Iterable[Any]) -> list[bytes]:
        """As :meth:`_encode_all`, leaving out the values the codec cannot encode: they
        cannot be members, so removing them (or keeping only them) changes nothing, as
        ``discard`` and ``in`` treat them (both through :meth:`_enc_member`)."""
        found = {self._enc_member(v) for v in set(values)}
        found.discard(None)
        return list(found)  # type: ignore[arg-type]

    def _enc_member(self, value: Any) -> bytes | None:
        """Encoded ``value`` after set's hashability check; None if the codec can't encode it.

        Like ``set``, a ``set`` argument is looked up as the equal ``frozenset``.
        """
        if isinstance(value, set):
            value = frozenset(value)
        hash(value)
        try:
            return self._enc(value)
        except TypeError:
            return None

    def _key_of(self, other: Any) -> str | None:
        """``other``'s key if Redis can combine it with this set directly, else None."""
        if not (isinstance(other, Set) and other._client is self._client and other._codec is self._codec):
            return None
        if isinstance(self._client.redis, redis.RedisCluster):
            if key_slot(other._main.encode()) != key_slot(self._main.encode()):
                return None
        return other._main

    def _read_sets(self, command: str, keys: list[str]) -> Any:
        """One native read over this set and ``keys`` (SUNION, SINTER, SDIFF)."""
        try:
            return self._read(command, self._main, *keys)
        except WrongTypeError as exc:
            raise self._wrong_key(exc, keys) from exc.__cause__

    def _wrong_key(self, exc: WrongTypeError, keys: list[str]) -> WrongTypeError:
        """``exc`` naming the key that is not a set: Redis's WRONGTYPE of a command over
        several keys does not say which (one TYPE per key, on this error path only)."""
        names = [self._main, *keys]
        kinds = self._read_many(*(Cmd(("TYPE", k)) for k in names))
        for name, kind in zip(names, kinds):
            if kind not in (b"set", b"none", "set", "none"):
                if name == exc.key:
                    return exc
                return WrongTypeError(f"key {name!r} holds a Redis type that a set operation cannot use", key=name)
        return exc

    def _split(self, others: tuple[Any, ...]) -> tuple[list[str], list[Any]]:
        """Operands Redis combines (their keys) and the others (plain values)."""
        keys: list[str] = []
        plain: list[Any] = []
        for other in others:
            key = self._key_of(other)
            if key is not None:
                keys.append(key)
            else:
                plain.append(other.value if isinstance(other, Set) else other)
        return keys, plain

    # -- whole value -------------------------------------------------------------

    @property
    def value(self) -> set[Any]:
        """A plain ``set`` copy (one SMEMBERS).  Assigning replaces the whole set atomically.

        A TTL set on the key is kept (as ``SET ... KEEPTTL``); assigning an empty
        set deletes the key, and so its TTL.
        """
        return self._loads(self._read("SMEMBERS", self._main))

    @value.setter
    def value(self, new: Iterable[Any]) -> None:
        self._eval_write(_REPLACE, (self._main, self._tmp), self._encode_all(new))

    def copy(self) -> set[Any]:
        """A plain ``set`` with the current members (one SMEMBERS)."""
        return self.value

    # -- sized, iterable, container -------------------------------------------

    def __len__(self) -> int:
        return self._read("SCARD", self._main)

    def __iter__(self) -> Iterator[Any]:
        """Iterate over a snapshot (one SMEMBERS)."""
        return iter(self.value)

    def __contains__(self, value: object) -> bool:
        data = self._enc_member(value)
        return data is not None and self._read("SISMEMBER", self._main, data) == 1

    # -- single members ------------------------------------------------------------

    def add(self, value: Any) -> None:
        """Add ``value`` (one SADD)."""
        hash(value)
        self._write("SADD", self._main, self._enc(value))

    def discard(self, value: Any) -> None:
        """Remove ``value`` if present (one SREM)."""
        data = self._enc_member(value)
        if data is not None:
            self._write("SREM", self._main, data)

    def remove(self, value: Any) -> None:
        """Remove ``value`` (one SREM).

        Raises:
            KeyError: ``value`` is not a member (not raised inside ``transaction()``).
        """
        data = self._enc_member(value)
        if data is None:
            raise KeyError(value)
        if self._write("SREM", self._main, data, idempotent=False) == 0:
            raise KeyError(value)

    def pop(self) -> Any:
        """Remove and return an arbitrary member (one SPOP); None inside ``transaction()``.

        Raises:
            KeyError: the set is empty.
        """
        raw = self._write("SPOP", self._main, idempotent=False)
        if raw is None:
            if self._client.in_transaction():
                return None
            raise KeyError("pop from an empty set")
        return _freeze(self._codec.loads(raw))

    def clear(self) -> None:
        """Remove every member (one script: type check, then DEL)."""
        self._eval_write(_REPLACE, (self._main, self._tmp), ())

    # -- algebra returning a new set ---------------------------------------------

    def union(self, *others: Iterable[Any]) -> set[Any]:
        keys, plain = self._split(others)
        if keys or not plain:
            result = self._loads(self._read_sets("SUNION", keys))
        else:
            result = self.value
        return result.union(*plain)

    def intersection(self, *others: Iterable[Any]) -> set[Any]:
        keys, plain = self._split(others)
        if keys or not plain:
            result = self._loads(self._read_sets("SINTER", keys))
        else:
            result = self.value
        return result.intersection(*plain)

    def difference(self, *others: Iterable[Any]) -> set[Any]:
        keys, plain = self._split(others)
        if keys or not plain:
            result = self._loads(self._read_sets("SDIFF", keys))
        else:
            result = self.value
        return result.difference(*plain)

    def symmetric_difference(self, *args: Iterable[Any]) -> set[Any]:
        other = _one_argument("symmetric_difference", args)
        key = self._key_of(other)
        if key is None:
            return self.value.symmetric_difference(other.value if isinstance(other, Set) else other)
        try:
            ours, theirs = self._read_many(Cmd(("SDIFF", self._main, key)), Cmd(("SDIFF", key, self._main)))
        except WrongTypeError as exc:
            raise self._wrong_key(exc, [key]) from exc.__cause__
        return self._loads(ours) | self._loads(theirs)

    def __or__(self, other: Any) -> set[Any]:
        return self.union(other) if isinstance(other, AbstractSet) else NotImplemented

    def __and__(self, other: Any) -> set[Any]:
        return self.intersection(other) if isinstance(other, AbstractSet) else NotImplemented

    def __sub__(self, other: Any) -> set[Any]:
        return self.difference(other) if isinstance(other, AbstractSet) else NotImplemented

    def __xor__(self, other: Any) -> set[Any]:
        return self.symmetric_difference(other) if isinstance(other, AbstractSet) else NotImplemented

    def __ror__(self, other: Any) -> Any:
        return other | self.value if isinstance(other, AbstractSet) else NotImplemented

    def __rand__(self, other: Any) -> Any:
        return other & self.value if isinstance(other, AbstractSet) else NotImplemented

    def __rsub__(self, other: Any) -> Any:
        return other - self.value if isinstance(other, AbstractSet) else NotImplemented

    def __rxor__(self, other: Any) -> Any:
        return other ^ self.value if isinstance(other, AbstractSet) else NotImplemented

    # -- in-place algebra --------------------------------------------------------

    def update(self, *others: Iterable[Any]) -> None:
        """Add the members of every operand (one SADD, or one script with hotsync Sets)."""
        keys, plain = self._split(others)
        data = self._encode_all(v for p in plain for v in p) if plain else []
        if keys:
            self._eval_write(_UPDATE, (self._main, *keys), data)
        elif data:
            self._write("SADD", self._main, *data)

    def intersection_update(self, *others: Iterable[Any]) -> None:
        """Keep only members found in every operand (one script)."""
        if not others:
            return
        keys, plain = self._split(others)
        common = set(plain[0]).intersection(*plain[1:]) if plain else set()
        self._eval_write(
            _INTERSECTION_UPDATE, (self._main, *keys), ("1" if plain else "0", *self._encode_known(common))
        )

    def difference_update(self, *others: Iterable[Any]) -> None:
        """Remove the members of every operand (one SREM, or one script with hotsync Sets)."""
        keys, plain = self._split(others)
        data = self._encode_known(v for p in plain for v in p) if plain else []
        if keys:
            self._eval_write(_DIFFERENCE_UPDATE, (self._main, *keys), data)
        elif data:
            self._write("SREM", self._main, *data)

    def symmetric_difference_update(self, *args: Iterable[Any]) -> None:
        """Keep members in exactly one of the two sets (one script)."""
        other = _one_argument("symmetric_difference_update", args)
        key = self._key_of(other)
        if key is not None:
            self._eval_write(_SYMMETRIC_DIFFERENCE_UPDATE, (self._main, key), (), idempotent=False)
            return
        data = self._encode_all(other.value if isinstance(other, Set) else other)
        self._eval_write(_SYMMETRIC_DIFFERENCE_UPDATE, (self._main,), data, idempotent=False)

    def __ior__(self, other: Any) -> Set:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        self.update(other)
        return self

    def __iand__(self, other: Any) -> Set:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        self.intersection_update(other)
        return self

    def __isub__(self, other: Any) -> Set:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        self.difference_update(other)
        return self

    def __ixor__(self, other: Any) -> Set:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        self.symmetric_difference_update(other)
        return self

    # -- comparisons -------------------------------------------------------------

    def _compare(self, other: Any) -> tuple[int, int, int] | None:
        """(|self|, |other|, |self & other|) from Redis, or None when other is not combinable."""
        key = self._key_of(other)
        if key is None:
            return None
        a, b, common = self._eval_read(_COMPARE, (self._main, key), ())
        return a, b, common

    def _plain(self, other: Any) -> set[Any]:
        if isinstance(other, Set):
            return other.value
        return other if isinstance(other, (set, frozenset)) else set(other)

    def issubset(self, other: Iterable[Any]) -> bool:
        c = self._compare(other)
        return self.value.issubset(self._plain(other)) if c is None else c[2] == c[0]

    def issuperset(self, other: Iterable[Any]) -> bool:
        c = self._compare(other)
        return self.value.issuperset(self._plain(other)) if c is None else c[2] == c[1]

    def isdisjoint(self, other: Iterable[Any]) -> bool:
        c = self._compare(other)
        return self.value.isdisjoint(self._plain(other)) if c is None else c[2] == 0

    def __eq__(self, other: object) -> bool:
        c = self._compare(other)
        if c is None:
            return super().__eq__(other)
        return c[0] == c[1] == c[2]

    def __le__(self, other: Any) -> bool:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        return self.issubset(other)

    def __lt__(self, other: Any) -> bool:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        c = self._compare(other)
        return self.value < self._plain(other) if c is None else c[2] == c[0] < c[1]

    def __ge__(self, other: Any) -> bool:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        return self.issuperset(other)

    def __gt__(self, other: Any) -> bool:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        c = self._compare(other)
        return self.value > self._plain(other) if c is None else c[2] == c[1] < c[0]
