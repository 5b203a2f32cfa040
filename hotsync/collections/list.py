"""List: Python's ``list`` kept in one Redis list; every operation atomic.

Keys (``K`` is the main key, see :mod:`hotsync._keys`):

============  =====  ===============================================================
key           type   contents / lifetime
============  =====  ===============================================================
``K``         list   the codec-encoded elements in order; absent when the list is empty
``{K}:tmp``   list   scratch of the scripts that build a new list aside (replace,
                     reverse, sort, slice assignment) and RENAME it over ``K``;
                     exists only while such a script runs
============  =====  ===============================================================

Which Redis call each operation is (all are one round trip unless noted):
``append``/``extend``/``+=``: RPUSH; ``pop()``/``pop(0)``: RPOP/LPOP;
``lst[i]``: LINDEX; ``lst[i] = x``: LSET; ``lst[a:b]``: LRANGE; ``len``: LLEN;
``x in``/``index``/``count``: LPOS; ``remove``: LREM; ``clear``: LTRIM;
``insert``, ``pop(i)``, ``del lst[i]``, ``reverse``, ``*=``, slices with a step
and slice assignment/deletion: one Lua script each (``lua/list_*.lua``);
``sort``: LRANGE, then a script that applies the order only if the list is
still exactly what was read (repeated on conflict).
"""

from __future__ import annotations

import hashlib
import operator
import sys
import uuid
from collections.abc import Iterable, Iterator, MutableSequence
from typing import Any, Callable

import redis

from .._keys import aux
from .._ops import Cmd
from .._scripts import script
from ..client import HotClient
from ..codecs import Codec
from ..exceptions import TransactionError
from ._base import Collection
from ._seq import BIG, clamp, index_arg, slice_args

__all__ = ["List"]

_REPLACE = script("list_replace")
_REVERSE = script("list_reverse")
_REPEAT = script("list_repeat")
_INSERT = script("list_insert")
_POP = script("list_pop")
_SLICE = script("list_slice")
_SPLICE = script("list_splice")
_STRIDE = script("list_stride")
_SORT = script("list_sort")

#: Longest list Redis can hold.
_MAX_LEN = 2**32 - 1
#: How many times sort() reads and re-sorts before giving up on a list that keeps changing.
_SORT_ATTEMPTS = 50


def _probe_get(i: Any) -> None:
    [][i]


def _probe_set(i: Any) -> None:
    [].__setitem__(i, None)


def _probe_del(i: Any) -> None:
    [].__delitem__(i)


def _probe_pop(i: Any) -> None:
    [].pop(i)


def _probe_insert(i: Any) -> None:
    [].insert(i, None)


def _sentinel() -> bytes:
    """A token no element equals (NUL-prefixed random bytes), for in-place index edits."""
    return b"\x00hotsync:" + uuid.uuid4().hex.encode()


def _digest(raw: list[bytes]) -> str:
    """SHA1 of the list's exact content, as ``list_sort.lua`` computes it."""
    h = hashlib.sha1()
    for item in raw:
        h.update(b"%d:" % len(item))
        h.update(item)
    return h.hexdigest()


def _items(values: Any, message: str) -> list[Any]:
    """``list(values)``, with ``message`` as the TypeError for a non-iterable (slice assignment)."""
    try:
        it = iter(values)
    except TypeError:
        raise TypeError(message) from None
    return list(it)


class List(Collection, MutableSequence):
    """A ``list`` shared by every process that uses the same key.

    Model: the list lives in one Redis list; this object holds only its key.
    Every method is one atomic Redis command or Lua script (see the module
    docstring), so concurrent appends, pops and inserts from many hosts never
    lose or duplicate an element.  Elements go through the codec (JSON by
    default): ``List([1, None, "a"])[0]`` is the int ``1``.

    Distributed semantics:
        * Reads (``lst[i]``, ``len``, iteration, ``==``) see the list at one
          instant; iteration, ``copy()`` and ``.value`` take a snapshot (one
          LRANGE) and never fail because another process changed the list.
        * ``sort()`` compares values in Python: it reads the list, sorts a
          permutation locally, and a script applies it only if the list is
          still exactly what was read (SHA1 of the content); otherwise it reads
          again.  Everything else is one script or command, no read-modify-write.
        * Operations that rebuild the list (replace, ``reverse``, ``sort``,
          slice assignment of a different size) build the result in a scratch
          key and RENAME it over the list, so a failure half-way changes
          nothing.  They use memory for a second copy meanwhile.
        * Inside ``transaction()`` every write method is queued and returns
          None (``pop`` too: its value is not available); an out-of-range
          ``pop(i)``/``del lst[i]`` or a missing ``remove(x)`` then does
          nothing, while an out-of-range ``lst[i] = x`` makes the commit raise
          :class:`~hotsync.TransactionError`.  Reads and ``sort()`` raise
          ``TransactionError``.

    Differences from ``list``:
        * Elements are compared by their encoded form in ``in``, ``index``,
          ``count`` and ``remove`` (done by Redis): values that are equal in
          Python but encode differently (``1``, ``1.0`` and ``True`` with JSON)
          are different elements there.  ``==``, ``<`` and ``sort`` compare
          decoded values, as Python does.
        * Tuples come back as lists with the JSON codec.
        * ``copy()``, ``+`` and ``*`` return plain lists; the object is
          unhashable, like ``list``.
        * ``*=`` refuses (MemoryError) a result longer than Redis allows (2**32 - 1).

    Example::

        jobs = List(["a", "b"], key="jobs")
        jobs.append("c")
        jobs[1:2] = ["x", "y"]       # one script, atomic
        jobs.sort(reverse=True)
        assert jobs == ["y", "x", "c", "a"]
    """

    _kind = "list"

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

    # -- whole value -------------------------------------------------------

    @property
    def value(self) -> list[Any]:
        """A plain ``list`` copy (one LRANGE).  Assigning replaces the whole list atomically.

        A TTL set on the key is kept (as ``SET ... KEEPTTL``); assigning an empty
        list deletes the key, and so its TTL.
        """
        return self._loads(self._read("LRANGE", self._main, 0, -1))

    @value.setter
    def value(self, new: Iterable[Any]) -> None:
        data = [self._enc(v) for v in list(new)]
        self._eval_write(_REPLACE, (self._main, self._tmp), data)

    def _loads(self, raw: list[bytes]) -> list[Any]:
        loads = self._codec.loads
        return [loads(item) for item in raw]

    def copy(self) -> list[Any]:
        """A plain ``list`` with the current elements (one LRANGE)."""
        return self.value

    # -- sized, iterable, container -------------------------------------------

    def __len__(self) -> int:
        return self._read("LLEN", self._main)

    def __iter__(self) -> Iterator[Any]:
        """Iterate over a snapshot (one LRANGE)."""
        return iter(self.value)

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self.value)

    def __contains__(self, value: object) -> bool:
        data = self._enc_or_none(value)
        return data is not None and self._read("LPOS", self._main, data) is not None

    def _enc_or_none(self, value: Any) -> bytes | None:
        """The encoded value, or None when the codec cannot encode it (so it is in no list)."""
        try:
            return self._enc(value)
        except TypeError:
            return None

    # -- indexing and slicing -------------------------------------------------

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = slice_args(index)
            if step != 1:
                return self._loads(self._eval_read(_SLICE, (self._main,), (start, stop, step)))
            if stop == 0:
                return []
            # LRANGE's negative indices and clamping are Python's; only its stop is inclusive
            return self._loads(self._read("LRANGE", self._main, start, stop - 1))
        i = index_arg(index, _probe_get, "list index out of range")
        raw = self._read("LINDEX", self._main, i)
        if raw is None:
            raise IndexError("list index out of range")
        return self._codec.loads(raw)

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            self._assign_slice(index, value)
            return
        i = index_arg(index, _probe_set, "list assignment index out of range")
        data = self._enc(value)
        try:
            self._write("LSET", self._main, i, data)
        except redis.ResponseError as exc:
            if "index out of range" in str(exc) or "no such key" in str(exc):
                raise IndexError("list assignment index out of range") from None
            raise

    def _assign_slice(self, sl: slice, values: Any) -> None:
        start, stop, step = slice_args(sl)
        if step == 1:
            data = [self._enc(v) for v in _items(values, "can only assign an iterable")]
            self._eval_write(_SPLICE, (self._main, self._tmp), (start, stop, *data), idempotent=False)
            return
        data = [self._enc(v) for v in _items(values, "must assign iterable to extended slice")]
        reply = self._eval_write(_STRIDE, (self._main, self._tmp), (start, stop, step, "set", *data), idempotent=False)
        if reply is not None and reply[0] == -1:
            raise ValueError(f"attempt to assign sequence of size {len(data)} to extended slice of size {reply[1]}")

    def __delitem__(self, index: Any) -> None:
        if isinstance(index, slice):
            start, stop, step = slice_args(index)
            if step == 1:
                self._eval_write(_SPLICE, (self._main, self._tmp), (start, stop), idempotent=False)
            else:
                self._eval_write(_STRIDE, (self._main, self._tmp), (start, stop, step, "del"), idempotent=False)
            return
        i = index_arg(index, _probe_del, "list assignment index out of range")
        reply = self._eval_write(_POP, (self._main,), (i, _sentinel()), idempotent=False)
        if reply is not None and reply[0] != 1:
            raise IndexError("list assignment index out of range")

    # -- mutation ----------------------------------------------------------------

    def append(self, value: Any) -> None:
        """Add ``value`` at the end (one RPUSH)."""
        self._write("RPUSH", self._main, self._enc(value), idempotent=False)

    def extend(self, values: Iterable[Any]) -> None:
        """Append every element of ``values`` in one RPUSH (nothing is sent for an empty iterable)."""
        data = [self._enc(v) for v in list(values)]
        if data:
            self._write("RPUSH", self._main, *data, idempotent=False)

    def insert(self, index: Any, value: Any) -> None:
        """Insert ``value`` before ``index`` with ``list.insert``'s clamping (one script)."""
        i = index_arg(index, _probe_insert, "")
        data = self._enc(value)
        self._eval_write(_INSERT, (self._main,), (i, data, _sentinel()), idempotent=False)

    def pop(self, index: Any = -1) -> Any:
        """Remove and return the element at ``index`` (default last).

        ``pop()`` and ``pop(0)`` are RPOP/LPOP; other indexes one script.
        Inside ``transaction()`` the pop is queued and None is returned.

        Raises:
            IndexError: the list is empty, or ``index`` is out of range.
        """
        i = index_arg(index, _probe_pop, "pop from empty list")
        if self._client.in_transaction():
            if i in (-1, 0):
                self._write("RPOP" if i == -1 else "LPOP", self._main, idempotent=False)
            else:
                self._eval_write(_POP, (self._main,), (i, _sentinel()), idempotent=False)
            return None
        if i in (-1, 0):
            raw = self._write("RPOP" if i == -1 else "LPOP", self._main, idempotent=False)
            if raw is None:
                raise IndexError("pop from empty list")
            return self._codec.loads(raw)
        reply = self._eval_write(_POP, (self._main,), (i, _sentinel()), idempotent=False)
        if reply[0] == 0:
            raise IndexError("pop from empty list")
        if reply[0] == -1:
            raise IndexError("pop index out of range")
        return self._codec.loads(reply[1])

    def remove(self, value: Any) -> None:
        """Remove the first element equal (encoded) to ``value`` (one LREM).

        Raises:
            ValueError: no such element (not raised inside ``transaction()``).
        """
        data = self._enc_or_none(value)
        if data is None:
            raise ValueError("list.remove(x): x not in list")
        if self._write("LREM", self._main, 1, data, idempotent=False) == 0:
            raise ValueError("list.remove(x): x not in list")

    def clear(self) -> None:
        """Remove every element (LTRIM to nothing, which deletes the key)."""
        self._write("LTRIM", self._main, 1, 0)

    def reverse(self) -> None:
        """Reverse in place (one script; builds the reversed copy aside, then RENAME)."""
        self._eval_write(_REVERSE, (self._main, self._tmp), (), idempotent=False)

    def sort(self, *args: Any, key: Callable[[Any], Any] | None = None, reverse: bool = False) -> None:
        """Sort in place with Python's ordering of the decoded values (stable, like ``list.sort``).

        Reads the list, sorts a permutation locally (``key`` is called once per
        element; comparison errors such as ``TypeError`` for mixed types are
        raised before anything is written), then a script applies it only if
        the list still holds exactly what was read; otherwise it starts over.

        Raises:
            TransactionError: inside ``transaction()`` (sorting needs a read).
            RuntimeError: the list changed under 50 consecutive attempts.
        """
        if args:
            [].sort(*args)  # "sort() takes no positional arguments", as list says it
        [].sort(key=key, reverse=reverse)  # argument checks, as list.sort makes them
        if self._client.in_transaction():
            raise TransactionError("sort() reads the list to compare values in Python; it cannot run inside transaction()")
        for _ in range(_SORT_ATTEMPTS):
            raw = self._read("LRANGE", self._main, 0, -1)
            items = self._loads(raw)
            keys = items if key is None else [key(v) for v in items]
            order = sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)
            if all(i == j for i, j in enumerate(order)):
                return  # already in order when it was read: nothing to write
            if self._eval_write(_SORT, (self._main, self._tmp), (_digest(raw), *order)) == 1:
                return
        raise RuntimeError(f"list {self.key!r} changed during each of {_SORT_ATTEMPTS} sort attempts")

    # -- searching ---------------------------------------------------------------

    def index(self, value: Any, start: Any = 0, stop: Any = sys.maxsize) -> int:
        """Position of the first element equal (encoded) to ``value`` in ``[start:stop]``.

        One LPOS; with bounds, LLEN and LPOS in one MULTI.

        Raises:
            ValueError: no such element.
        """
        try:
            [].index(None, start, stop)  # argument checks, as list.index makes them
        except ValueError:
            pass
        start, stop = clamp(operator.index(start)), clamp(operator.index(stop))
        data = self._enc_or_none(value)
        if data is None:
            raise ValueError(f"{value!r} is not in list")
        if start == 0 and stop >= BIG:
            pos = self._read("LPOS", self._main, data)
        else:
            n, found = self._read_many(Cmd(("LLEN", self._main)), Cmd(("LPOS", self._main, data, "COUNT", 0)))
            start = max(start + n, 0) if start < 0 else start
            stop = max(stop + n, 0) if stop < 0 else stop
            pos = next((p for p in found if start <= p < stop), None)
        if pos is None:
            raise ValueError(f"{value!r} is not in list")
        return pos

    def count(self, value: Any) -> int:
        """Number of elements equal (encoded) to ``value`` (one LPOS ... COUNT 0)."""
        data = self._enc_or_none(value)
        if data is None:
            return 0
        return len(self._read("LPOS", self._main, data, "COUNT", 0))

    # -- operators ----------------------------------------------------------------

    def __iadd__(self, values: Iterable[Any]) -> List:
        self.extend(values)
        return self

    def __imul__(self, times: Any) -> List:
        operator.imul([], times)  # TypeError / OverflowError, as list raises them
        reply = self._eval_write(_REPEAT, (self._main,), (clamp(operator.index(times)), _MAX_LEN), idempotent=False)
        if reply == -1:
            raise MemoryError(f"list {self.key!r} * {times} would exceed Redis' list length limit")
        return self

    def __add__(self, other: Any) -> list[Any]:
        if isinstance(other, List):
            other = other.value
        if not isinstance(other, list):
            raise TypeError(f'can only concatenate list (not "{type(other).__name__}") to list')
        return self.value + other

    def __radd__(self, other: Any) -> list[Any]:
        if not isinstance(other, list):
            return NotImplemented
        return other + self.value

    def __mul__(self, times: Any) -> list[Any]:
        return self.value * times

    def __rmul__(self, times: Any) -> list[Any]:
        return times * self.value

    def _other(self, other: Any) -> list[Any] | None:
        if isinstance(other, List):
            return other.value
        return other if isinstance(other, list) else None

    def __lt__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value < o

    def __le__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value <= o

    def __gt__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value > o

    def __ge__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value >= o
