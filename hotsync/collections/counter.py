"""Counter (alias MultiSet): ``collections.Counter`` on a Redis hash of integers.

Keys (``K`` is the object's main key):

====================  =======  ==============================================
key                   type     contents
====================  =======  ==============================================
``K``                 hash     codec(element) -> count as decimal text
                               (signed 64-bit, so ``HINCRBY`` works on it)
``{K}:tmp``           hash     transient, inside ``dict_replace.lua`` only
====================  =======  ==============================================

Scripts: ``lua/counter_add.lua`` (multi-element ``update``/``subtract``, ``+=``,
``-=``), ``counter_union.lua`` (``|=``), ``counter_intersect.lua`` (``&=``), and
``dict_replace.lua`` (``initial``, ``.value =``).  A one-element ``update`` is a
single native ``HINCRBY``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

from redis import exceptions as rx

from .._ops import Cmd, Eval
from .._scripts import script
from ..client import HotClient
from ..codecs import Codec
from ._cross import colocated, read_together
from .dict import Dict, hash_pairs

__all__ = ["Counter", "MultiSet"]

_ADD = script("counter_add")
_UNION = script("counter_union")
_INTERSECT = script("counter_intersect")

_MIN = -(2**63)
_MAX = 2**63 - 1


def _count(value: Any) -> int:
    """A count as Redis stores it: an int in the signed 64-bit range."""
    if type(value) is not int:
        if not isinstance(value, int):
            raise TypeError(f"Counter counts must be integers, not {type(value).__name__}")
        value = int(value)
    if not _MIN <= value <= _MAX:
        raise OverflowError(f"Counter counts are signed 64-bit integers (Redis HINCRBY); {value} is out of range")
    return value


class Counter(Dict):
    """A ``collections.Counter`` whose counts live in a Redis hash.

    Counts are Redis integers (decimal text), so ``update`` is ``HINCRBY``
    (one element) or one Lua script (several elements), atomic across hosts
    and lossless under concurrency; other clients can ``HINCRBY`` the same
    hash.  Elements are encoded by the codec (JSON: ``Counter([1, "1"])`` keeps
    two elements).

    Args:
        initial: an iterable of elements or a mapping of counts, as for
            ``collections.Counter``; it *replaces* the stored content
            atomically.  ``None`` attaches to the key as is.
        key, client, codec: as for :class:`~hotsync.Dict`.
        **counts: element counts, as ``Counter(a=1)`` (added to ``initial``);
            elements named ``key``, ``client``, ``codec`` or ``initial`` must go
            through ``initial``.

    Distributed semantics:
        ``update``, ``subtract`` and the in-place operators are atomic: one
        native command or one script; several processes counting concurrently
        lose nothing.  ``c[x] += 1`` is a read then a write (not atomic): use
        ``c.update([x])``.  Reads (``most_common``, ``elements``, ``total``,
        binary operators) work on a snapshot taken in one round trip.

    Differences from ``collections.Counter``:
        * Counts are integers in the signed 64-bit range: another value raises
          ``TypeError``, a count (or a result) beyond the range raises
          ``OverflowError``, before anything is written.
        * Ties in ``most_common()`` follow Redis's hash order, not insertion order.
        * ``copy()``, ``.value``, and ``+ - & |`` and unary ``+``/``-`` return a
          plain ``collections.Counter``.
        * ``c &= other`` treats keys missing from a plain-dict ``other`` as 0
          (``collections.Counter`` raises ``KeyError`` there), and raises
          ``TypeError`` for any ``other`` that is not a mapping, even when the
          counter is empty (``collections.Counter`` looks each of its elements
          up in ``other``, so it raises only once it has one to look up).
        * Those of :class:`~hotsync.Dict` (order, transactions, views).

    Two Counters:
        ``update``/``subtract`` and ``+= -= |= &=`` with another Counter on
        the same client (and, on a cluster, the same slot) and codec run as one
        script reading it inside Redis: atomic over both keys.  Otherwise the
        other is read first (one round trip).  ``+ - | &`` and comparisons
        read both in one MULTI/EXEC when colocated.

    Example::

        seen = Counter(key="crawler:status")
        seen.update(["200", "200", "404"])     # one atomic script
        seen.most_common(1)                    # [('200', 2)]
    """

    _kind = "counter"

    def __init__(
        self,
        initial: Any = None,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        codec: str | Codec | None = None,
        **counts: int,
    ) -> None:
        if counts:
            merged: collections.Counter[Any] = collections.Counter()
            if initial is not None:
                merged.update(initial.value if isinstance(initial, Dict) else initial)
            merged.update(counts)
            initial = merged
        super().__init__(initial, key, client, codec=codec)

    # -- encoding: counts are decimal text -------------------------------------------

    def _venc(self, value: Any) -> bytes:
        return b"%d" % _count(value)

    def _vdec(self, data: bytes) -> int:
        return int(data)

    def _wrap(self, plain: dict[Any, Any]) -> collections.Counter[Any]:
        return collections.Counter(plain)

    @property
    def value(self) -> collections.Counter[Any]:
        """A ``collections.Counter`` copy (one ``HGETALL``).  Assigning replaces atomically,
        keeping a TTL set on the key (see :attr:`Dict.value <hotsync.Dict.value>`)."""
        return collections.Counter(self._snapshot())

    @value.setter
    def value(self, new: Any) -> None:
        counts: collections.Counter[Any] = collections.Counter()
        counts.update(new.value if isinstance(new, Dict) else new)
        Dict.value.fset(self, counts)  # type: ignore[attr-defined]

    def _other_counts(self, other: Any) -> Any:
        return other.value if isinstance(other, Dict) else other

    # -- Counter's mapping behaviour -----------------------------------------------------

    def __missing__(self, key: Any) -> int:
        """A missing element counts 0 (nothing is stored)."""
        return 0

    def __delitem__(self, key: Any) -> None:
        """Remove ``key``'s count; a missing key is not an error (as in Counter)."""
        field = self._flookup(key)
        if field is not None:
            self._client.write(Cmd(("HDEL", self._main, field)))

    def copy(self) -> collections.Counter[Any]:
        return self.value

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], v: Any = None, **kwargs: Any) -> Counter:  # type: ignore[override]
        raise NotImplementedError("Counter.fromkeys() is undefined.  Use Counter(iterable) instead.")

    def total(self) -> int:
        """Sum of the counts (one ``HVALS``)."""
        return sum(int(v) for v in self._client.read(Cmd(("HVALS", self._main))))

    def most_common(self, n: int | None = None) -> list[tuple[Any, int]]:
        """The ``n`` most common elements and their counts (all when ``n`` is None).

        Ties are ordered as Redis returns the hash (not by insertion).
        """
        return self.value.most_common(n)

    def elements(self) -> Iterable[Any]:
        """Each element repeated as many times as its count (snapshot)."""
        return self.value.elements()

    # -- atomic counting ------------------------------------------------------------------

    def _increments(self, items: Iterable[tuple[Any, Any]], sign: int, incs: dict[bytes, int]) -> None:
        for elem, count in items:
            field = self._fenc(elem)
            incs[field] = incs.get(field, 0) + sign * _count(count)

    def _gather(self, iterable: Any, kwds: Mapping[str, Any], sign: int) -> dict[bytes, int]:
        """Field -> increment for ``update``/``subtract`` arguments (all checked before any write)."""
        incs: dict[bytes, int] = {}
        if iterable is not None:
            if isinstance(iterable, Mapping):
                self._increments(self._other_counts(iterable).items(), sign, incs)
            else:
                for elem in iterable:
                    field = self._fenc(elem)
                    incs[field] = incs.get(field, 0) + sign
        if kwds:
            self._increments(kwds.items(), sign, incs)
        for field, n in incs.items():
            if not _MIN <= n <= _MAX:
                raise OverflowError(f"increment {n} of Counter {self.key!r} leaves the signed 64-bit range")
        return incs

    def _add(self, incs: dict[bytes, int], prune: bool) -> None:
        try:
            if len(incs) == 1 and not prune:
                ((field, n),) = incs.items()
                self._client.write(Cmd(("HINCRBY", self._main, field, n), idempotent=False))
                return
            flat: list[Any] = [b"1" if prune else b"0", b"1"]
            for field, n in incs.items():
                flat.append(field)
                flat.append(n)
            self._client.write(Eval(_ADD, (self._main,), tuple(flat), idempotent=False))
        except rx.ResponseError as exc:
            self._raise_count_error(exc)

    def _add_from(self, other: Counter, sign: int, prune: bool) -> None:
        args = (b"1" if prune else b"0", b"%d" % sign)
        try:
            self._client.write(Eval(_ADD, (self._main, other._main), args, idempotent=False))
        except rx.ResponseError as exc:
            self._raise_count_error(exc)

    def _raise_count_error(self, exc: rx.ResponseError) -> None:
        msg = str(exc)
        field = msg.split(" ", 1)[1] if msg.startswith(("OVERFLOW ", "NOTINT ")) else None
        what = "a count"
        if field is not None:
            try:
                what = f"the count of {self._fdec(field.encode())!r}"
            except Exception:  # noqa: BLE001 - a field another client wrote: show it raw
                what = f"the count of field {field!r}"
        if "overflow" in msg.lower() or "out of range" in msg:
            raise OverflowError(
                f"{what} of Counter {self.key!r} would leave the signed 64-bit range; nothing was changed"
            ) from None
        if "not an integer" in msg or msg.startswith("NOTINT"):
            raise ValueError(f"{what} of Counter {self.key!r} is not an integer in Redis; nothing was changed") from None
        raise exc

    def _server_side(self, other: Any) -> bool:
        return isinstance(other, Counter) and colocated(self, other) and other._codec is self._codec

    def update(self, iterable: Any = None, /, **kwds: Any) -> None:  # type: ignore[override]
        """Add counts: elements of an iterable count 1 each; a mapping gives counts.

        One ``HINCRBY`` for one element, else one script: atomic, nothing
        written when a count is invalid.  Counts may go negative or to zero
        (they are kept, as in ``collections.Counter.update``).
        """
        if not kwds and type(iterable) in (list, tuple) and len(iterable) == 1:  # the common c.update([x])
            self._add({self._fenc(iterable[0]): 1}, prune=False)
            return
        if self._server_side(iterable) and not kwds:
            self._add_from(iterable, 1, prune=False)
            return
        incs = self._gather(iterable, kwds, 1)
        if incs:
            self._add(incs, prune=False)

    def subtract(self, iterable: Any = None, /, **kwds: Any) -> None:
        """Subtract counts (like ``update`` with negated counts); zero and negative counts are kept."""
        if self._server_side(iterable) and not kwds:
            self._add_from(iterable, -1, prune=False)
            return
        incs = self._gather(iterable, kwds, -1)
        if incs:
            self._add(incs, prune=False)

    # -- in-place operators (atomic, persisted) -----------------------------------------------

    def _inplace_add(self, other: Any, sign: int) -> Counter:
        if self._server_side(other):
            self._add_from(other, sign, prune=True)
            return self
        incs: dict[bytes, int] = {}
        self._increments(self._other_counts(other).items(), sign, incs)
        for n in incs.values():
            if not _MIN <= n <= _MAX:
                raise OverflowError(f"increment {n} of Counter {self.key!r} leaves the signed 64-bit range")
        self._add(incs, prune=True)
        return self

    def __iadd__(self, other: Any) -> Counter:
        """``c += other``: add ``other``'s counts, then drop counts <= 0 (one script)."""
        return self._inplace_add(other, 1)

    def __isub__(self, other: Any) -> Counter:
        """``c -= other``: subtract ``other``'s counts, then drop counts <= 0 (one script)."""
        return self._inplace_add(other, -1)

    def _merge(self, other: Any, op: Any) -> Counter:
        try:
            if self._server_side(other):
                self._client.write(Eval(op, (self._main, other._main), ()))
                return self
            fields: dict[bytes, bytes] = {}
            for elem, count in self._other_counts(other).items():
                fields[self._fenc(elem)] = self._venc(count)
            flat = [x for pair in fields.items() for x in pair]
            self._client.write(Eval(op, (self._main,), tuple(flat)))
        except rx.ResponseError as exc:
            self._raise_count_error(exc)
        return self

    def __ior__(self, other: Any) -> Counter:  # type: ignore[override]
        """``c |= other``: element-wise maximum, then drop counts <= 0 (one script)."""
        return self._merge(other, _UNION)

    def __iand__(self, other: Any) -> Counter:
        """``c &= other``: element-wise minimum, keeping positive counts (one script).

        ``other`` must be a mapping of counts: anything else raises ``TypeError``
        before any write, as ``collections.Counter`` does when it looks an
        element up in a list, a string, a number...
        """
        if not isinstance(other, Mapping):  # a hotsync Dict is a Mapping too
            if not hasattr(type(other), "__getitem__"):
                raise TypeError(f"'{type(other).__name__}' object is not subscriptable")
            raise TypeError(f"Counter &= needs a mapping of counts, not '{type(other).__name__}'")
        return self._merge(other, _INTERSECT)

    # -- binary and unary operators: plain collections.Counter results --------------------------

    def _pair(self, other: Any) -> tuple[collections.Counter[Any], Any] | None:
        """(snapshot of self, other as a Counter), both read in one round trip when colocated."""
        if isinstance(other, Counter):
            if colocated(self, other):
                mine, theirs = read_together(self, ("HGETALL", self._main), other, ("HGETALL", other._main))
                return (
                    collections.Counter({self._fdec(f): int(v) for f, v in hash_pairs(mine)}),
                    collections.Counter({other._fdec(f): int(v) for f, v in hash_pairs(theirs)}),
                )
            return self.value, other.value
        if isinstance(other, collections.Counter):
            return self.value, other
        return None

    def __add__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] + pair[1]

    def __sub__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] - pair[1]

    def __or__(self, other: Any) -> Any:
        if isinstance(other, dict) and not isinstance(other, collections.Counter):
            return self.value | other  # Counter | dict is a dict merge, as in Python
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] | pair[1]

    def __and__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] & pair[1]

    def __radd__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[1] + pair[0]

    def __rsub__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[1] - pair[0]

    def __ror__(self, other: Any) -> Any:
        if isinstance(other, dict) and not isinstance(other, collections.Counter):
            return other | self.value  # dict | Counter is a dict merge, as in Python
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[1] | pair[0]

    def __rand__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[1] & pair[0]

    def __pos__(self) -> collections.Counter[Any]:
        return +self.value

    def __neg__(self) -> collections.Counter[Any]:
        return -self.value

    # -- comparisons (multiset inclusion, missing counts as zero) ---------------------------------

    def __eq__(self, other: object) -> bool:
        pair = self._pair(other)
        if pair is not None:
            return pair[0] == pair[1]
        return self.value == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __le__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] <= pair[1]

    def __lt__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] < pair[1]

    def __ge__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] >= pair[1]

    def __gt__(self, other: Any) -> Any:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] > pair[1]

    __hash__ = None  # type: ignore[assignment]


#: hot-redis's name for Counter.
MultiSet = Counter
