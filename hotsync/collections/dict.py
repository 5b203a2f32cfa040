"""Dict and DefaultDict: ``dict`` and ``collections.defaultdict`` on a Redis hash.

Keys (``K`` is the object's main key):

====================  =======  ==============================================
key                   type     contents
====================  =======  ==============================================
``K``                 hash     codec(key) -> codec(value); deleted when empty
``{K}:tmp``           hash     transient: a replacement being built inside
                               ``dict_replace.lua``, renamed onto ``K`` by the
                               same script (never visible outside it)
====================  =======  ==============================================

Both keys and values go through the object's codec (JSON by default), so
``Dict({1: [2]})`` gives back ``{1: [2]}`` with its types; numbers are stored as
plain decimal text, so ``HINCRBY`` still works on them.  Numeric keys are
normalized as Python's ``dict`` would match them: ``True``, ``1`` and ``1.0``
are the one field ``1``.  With JSON a str key ``a`` is the field ``"a"``
(quotes included: ``HGET K '"a"'`` from another client); ``codec="str"``
stores bare text instead, at the price of every value coming back as ``str``.

Scripts: ``lua/dict_replace.lua`` (``initial``, ``.value =``, ``clear``),
``dict_setdefault.lua`` (``setdefault``, ``DefaultDict`` misses),
``dict_pop.lua``, ``dict_popitem.lua``, ``dict_merge.lua`` (``update`` / ``|=``
from another Dict, server-side).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from typing import Any

from .._keys import aux
from .._ops import Cmd, Eval
from .._scripts import script
from ..client import HotClient
from ..codecs import Codec, JsonCodec
from ._base import CHUNK, Collection
from ._cross import colocated, read_together

__all__ = ["Dict", "DefaultDict"]

_REPLACE = script("dict_replace")
_SETDEFAULT = script("dict_setdefault")
_POP = script("dict_pop")
_POPITEM = script("dict_popitem")
_MERGE = script("dict_merge")

_MISSING = object()
_json_str = json.encoder.encode_basestring  # what JsonCodec (ensure_ascii=False) does for a str


_json_decode = json.JSONDecoder().decode


def _json_loads(data: bytes, codec: Codec) -> Any:
    """``JsonCodec.loads`` for the UTF-8 text hotsync writes, about 2 us faster.

    json.loads(bytes) first sniffs the encoding; decoding UTF-8 ourselves gives
    the same value.  Anything unusual (a BOM, UTF-16 from another writer,
    invalid JSON) goes through the codec itself, which decides.
    """
    if data.isdigit() and (len(data) == 1 or data[:1] != b"0"):
        return int(data)
    try:
        return _json_decode(data.decode("utf-8", "surrogatepass"))
    except ValueError:
        return codec.loads(data)


def hash_pairs(reply: Any) -> list[tuple[bytes, bytes]]:
    """HGETALL's reply as (field, value) pairs: flat RESP2 list or RESP3 map."""
    if isinstance(reply, dict):
        return list(reply.items())
    it = iter(reply)
    return list(zip(it, it))


class Dict(Collection, MutableMapping):
    """A ``dict`` whose content lives in a Redis hash shared by every process.

    Every method is one round trip: one native command (``HGET``, ``HSET``,
    ``HDEL``, ``HEXISTS``, ``HLEN``, ``HKEYS``, ``HGETALL``...) or one Lua
    script, so each call is atomic across hosts.  The object keeps no local
    copy: ``d["a"]`` always reads Redis.

    Args:
        initial: content that *replaces* what the key holds (atomically), as
            ``dict(initial)`` would build it; ``None`` attaches to the key as is.
        key: the Redis key (default: a new unique key, see ``.key``).
        client: the :class:`~hotsync.HotClient` (default: the process default).
        codec: how keys and values are encoded (default: the client's, JSON).

    Distributed semantics:
        Single calls are atomic; sequences of calls are not (use
        :func:`~hotsync.transaction` to batch writes).  ``d[k] += 1`` is a read
        then a write, like on a local dict shared by threads; for atomic
        counters use :class:`~hotsync.Counter` or :class:`~hotsync.Int`.
        Iteration, ``keys()``, ``values()`` and ``items()`` read a snapshot in
        one round trip each time they are iterated.

    Differences from ``dict``:
        * Order: a Redis hash is unordered; iteration follows Redis's order
          (insertion order for small hashes, arbitrary for large ones), and
          ``reversed()`` reverses that order.
        * ``popitem()`` removes an *arbitrary* item (``HRANDFIELD``), not the
          last inserted one.
        * ``keys()``/``values()``/``items()`` are live views (``len`` and ``in``
          ask Redis; iterating takes a snapshot); changing the dict while
          iterating never raises ``RuntimeError``.
        * ``d[k]`` returns a *copy* of the stored value: changing a list or
          dict it returns changes nothing in Redis (``d[k].append(x)`` is lost).
          Write the new value back (``v = d[k]; v.append(x); d[k] = v``, not
          atomic), or keep such values in their own :class:`~hotsync.List` or
          :class:`~hotsync.Dict` keys and store their keys here.
        * ``copy()`` and ``.value`` return a plain ``dict``; ``d | x`` too.
        * Keys and values must be encodable by the codec (``TypeError`` before
          anything is written otherwise); with JSON, tuples come back as lists,
          so tuple keys are refused.
        * ``list(d)`` asks ``len(d)`` first (Python preallocates): two round
          trips; ``d.copy()``, ``.value`` or a ``for`` loop take one.
        * Inside :func:`~hotsync.transaction`, write methods are queued and
          return ``None``: ``pop``/``popitem``/``setdefault`` cannot return
          their value and ``del d[k]``/``pop(k)`` do not raise ``KeyError``
          for a missing key.  Reads raise :class:`~hotsync.TransactionError`.

    Two Dicts:
        ``d.update(other)`` / ``d |= other`` with ``other`` a Dict on the same
        client (and, on a cluster, the same slot) and the same codec runs as
        one script inside Redis (``dict_merge.lua``): atomic over both keys.
        Otherwise ``other`` is read in one round trip, then written: each
        step atomic, the pair not.  ``d | other`` and ``d == other`` read both
        (one MULTI/EXEC when colocated) and return plain values.

    Example::

        config = Dict({"workers": 4}, key="pool:config")
        config["workers"] += 1          # read, then write
        config.setdefault("queue", "jobs")
    """

    _kind = "dict"

    # -- encoding ------------------------------------------------------------

    def _fenc(self, key: Any) -> bytes:
        """Encode a key as a hash field (``TypeError`` if it cannot round-trip)."""
        t = type(key)
        if t is str or t is int or key is None:
            if type(self._codec) is JsonCodec:  # the common case, byte-identical and faster
                if t is str:
                    try:
                        return _json_str(key).encode()
                    except UnicodeEncodeError:  # a lone surrogate: the codec's TypeError
                        return self._codec.dumps(key)
                if key is None:
                    return b"null"
                try:
                    return b"%d" % key
                except ValueError:  # over Python's int-to-str digit limit: the codec's TypeError
                    return self._codec.dumps(key)
            return self._codec.dumps(key)
        if t is bool:
            return self._codec.dumps(int(key))
        if t is float:
            return self._codec.dumps(int(key) if key.is_integer() else key)
        hash(key)  # unhashable keys fail exactly as in dict
        data = self._codec.dumps(key)
        try:
            back = self._codec.loads(data)
            ok = back == key and hash(back) == hash(key)
        except Exception:  # noqa: BLE001 - anything that does not come back equal
            ok = False
        if not ok:
            raise TypeError(
                f"{t.__name__} keys do not survive the {getattr(self._codec, 'name', 'custom')} codec "
                "(they would come back different or unhashable)"
            )
        return data

    def _flookup(self, key: Any) -> bytes | None:
        """The field of ``key`` for a lookup, or None when it cannot be stored at all."""
        try:
            return self._fenc(key)
        except TypeError:
            hash(key)  # an unhashable key raises TypeError, as in dict
            return None

    def _fdec(self, data: bytes) -> Any:
        if type(self._codec) is JsonCodec:
            return _json_loads(data, self._codec)
        return self._codec.loads(data)

    def _venc(self, value: Any) -> bytes:
        if type(self._codec) is JsonCodec:  # byte-identical fast paths of the default codec
            t = type(value)
            if t is str:
                try:
                    return _json_str(value).encode()
                except UnicodeEncodeError:  # a lone surrogate: the codec's TypeError
                    return self._codec.dumps(value)
            if t is int:
                try:
                    return b"%d" % value
                except ValueError:  # over Python's int-to-str digit limit: the codec's TypeError
                    pass
        return self._codec.dumps(value)

    def _vdec(self, data: bytes) -> Any:
        if type(self._codec) is JsonCodec:
            return _json_loads(data, self._codec)
        return self._codec.loads(data)

    def _encode_items(self, items: Mapping[Any, Any]) -> list[bytes]:
        """Flat field/value list of a plain mapping (all encoded before any write)."""
        fields: dict[bytes, bytes] = {}
        for k, v in items.items():
            fields[self._fenc(k)] = self._venc(v)
        flat: list[bytes] = []
        for f, v in fields.items():
            flat.append(f)
            flat.append(v)
        return flat

    @staticmethod
    def _plain(other: Any) -> Mapping[Any, Any]:
        """What ``dict.update(other)`` would take from ``other``, as a plain mapping."""
        if isinstance(other, Dict):
            return other.value  # one round trip instead of one per key
        tmp: dict[Any, Any] = {}
        tmp.update(other)  # the builtin's own argument checks and messages
        return tmp

    def _same_encoding(self, other: Dict) -> bool:
        """True when ``other``'s stored fields and values mean the same to this object."""
        return other._codec is self._codec and type(other)._vdec is type(self)._vdec

    def _snapshot(self) -> dict[Any, Any]:
        reply = self._client.read(Cmd(("HGETALL", self._main)))
        return {self._fdec(f): self._vdec(v) for f, v in hash_pairs(reply)}

    def _write_flat(self, flat: list[bytes]) -> None:
        """HSET the pairs: one command, or one MULTI/EXEC of chunks for big updates."""
        if not flat:
            return
        if len(flat) <= CHUNK:
            self._client.write(Cmd(("HSET", self._main, *flat)))
            return
        self._atomic([Cmd(("HSET", self._main, *flat[i : i + CHUNK])) for i in range(0, len(flat), CHUNK)])

    # -- value ------------------------------------------------------------------

    @property
    def value(self) -> dict[Any, Any]:
        """A plain ``dict`` copy (one ``HGETALL``).  Assigning replaces the content atomically.

        Assigning (or ``initial=``) keeps a TTL set on the key (``EXPIRE``), as
        ``SET ... KEEPTTL`` does: the content changes, the key's lifetime does
        not.  Assigning an empty mapping deletes the key, and so its TTL.
        """
        return self._snapshot()

    @value.setter
    def value(self, new: Any) -> None:
        flat = self._encode_items(self._plain(new))
        self._eval_write(_REPLACE, (self._main, aux(self._main, "tmp")), flat)

    # -- mapping protocol -------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        field = self._flookup(key)
        data = None if field is None else self._client.read(Cmd(("HGET", self._main, field)))
        if data is None:
            return self.__missing__(key)
        return self._vdec(data)

    def __missing__(self, key: Any) -> Any:
        """Called by ``d[key]`` for an absent key (subclasses override, as with dict)."""
        raise KeyError(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._client.write(Cmd(("HSET", self._main, self._fenc(key), self._venc(value))))

    def __delitem__(self, key: Any) -> None:
        field = self._flookup(key)
        if field is None:
            raise KeyError(key)
        removed = self._client.write(Cmd(("HDEL", self._main, field), idempotent=False))
        if removed == 0:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        field = self._flookup(key)
        return field is not None and bool(self._client.read(Cmd(("HEXISTS", self._main, field))))

    def __len__(self) -> int:
        return int(self._client.read(Cmd(("HLEN", self._main))))

    def __iter__(self) -> Iterator[Any]:
        return iter([self._fdec(f) for f in self._client.read(Cmd(("HKEYS", self._main)))])

    def __reversed__(self) -> Iterator[Any]:
        return reversed([self._fdec(f) for f in self._client.read(Cmd(("HKEYS", self._main)))])

    def keys(self) -> KeysView[Any]:
        """A live view: ``len`` and ``in`` ask Redis; iterating reads the keys once (``HKEYS``)."""
        return _KeysView(self)

    def values(self) -> ValuesView[Any]:
        """A live view: iterating reads every value in one ``HVALS``."""
        return _ValuesView(self)

    def items(self) -> ItemsView[Any, Any]:
        """A live view: iterating reads every pair in one ``HGETALL``."""
        return _ItemsView(self)

    # -- dict methods ---------------------------------------------------------------

    def get(self, key: Any, default: Any = None) -> Any:
        """``d[key]`` if present, else ``default`` (never calls ``__missing__``)."""
        field = self._flookup(key)
        data = None if field is None else self._client.read(Cmd(("HGET", self._main, field)))
        return default if data is None else self._vdec(data)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """Store ``default`` if ``key`` is absent, then return the stored value: one script.

        Inside a transaction the write is queued and ``None`` is returned.
        """
        reply = self._eval_write(_SETDEFAULT, (self._main,), (self._fenc(key), self._venc(default)))
        return None if reply is None else self._vdec(reply)

    def pop(self, *args: Any) -> Any:
        """pop(key[, default]): remove ``key`` and return its value (one script).

        Raises ``KeyError`` when the key is absent and no default is given.
        Inside a transaction the removal is queued and ``None`` is returned.
        """
        if not args:
            raise TypeError("pop expected at least 1 argument, got 0")
        if len(args) > 2:
            raise TypeError(f"pop expected at most 2 arguments, got {len(args)}")
        key = args[0]
        field = self._flookup(key)
        if field is None:
            reply = None
        else:
            reply = self._eval_write(_POP, (self._main,), (field,), idempotent=False)
            if self._client.in_transaction():
                return None
        if reply is None:
            if len(args) == 2:
                return args[1]
            raise KeyError(key)
        return self._vdec(reply)

    def popitem(self) -> tuple[Any, Any]:
        """Remove and return an *arbitrary* ``(key, value)`` pair (a Redis hash has no order).

        Raises ``KeyError`` when empty.  Inside a transaction: queued, returns ``None``.
        """
        reply = self._eval_write(_POPITEM, (self._main,), (), idempotent=False)
        if reply is None:
            if self._client.in_transaction():
                return None  # type: ignore[return-value]
            raise KeyError("popitem(): dictionary is empty")
        return self._fdec(reply[0]), self._vdec(reply[1])

    def update(self, *args: Any, **kwargs: Any) -> None:
        """update([other], **kwargs): like ``dict.update``; one atomic write.

        ``other`` is a mapping or an iterable of pairs; every key and value is
        encoded before anything is written.  An empty update sends nothing.
        With a :class:`Dict` on the same server (and cluster slot) and the same
        codec, the copy runs inside Redis (``dict_merge.lua``).
        """
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 argument, got {len(args)}")
        if args and isinstance(args[0], Dict) and colocated(self, args[0]) and self._same_encoding(args[0]):
            # kwargs go into the same script: MULTI/EXEC would still apply them if the copy failed
            flat = self._encode_items(kwargs) if kwargs else []
            self._client.write(Eval(_MERGE, (self._main, args[0]._main), tuple(flat)))
            return
        items: dict[Any, Any] = {}
        if args:
            items.update(self._plain(args[0]))
        items.update(kwargs)
        self._write_flat(self._encode_items(items))

    def clear(self) -> None:
        """Remove every item (``dict_replace.lua`` with no pairs: type check, then ``DEL``).

        A key of another Redis type raises ``WrongTypeError`` and is left alone.
        """
        self._eval_write(_REPLACE, (self._main, aux(self._main, "tmp")), ())

    def copy(self) -> dict[Any, Any]:
        """A plain ``dict`` snapshot (one ``HGETALL``); not a new Redis object."""
        return self.value

    @classmethod
    def fromkeys(
        cls,
        iterable: Iterable[Any],
        value: Any = None,
        *,
        key: str | None = None,
        client: HotClient | None = None,
        codec: str | Codec | None = None,
    ) -> Dict:
        """A new object (new key unless ``key=``) holding ``dict.fromkeys(iterable, value)``."""
        return cls(dict.fromkeys(iterable, value), key=key, client=client, codec=codec)

    # -- operators ----------------------------------------------------------------------

    def _merged(self, other: Any) -> Any:
        """``self.copy() | other`` with both read in one round trip when possible."""
        if isinstance(other, Dict):
            if colocated(self, other):
                mine, theirs = read_together(self, ("HGETALL", self._main), other, ("HGETALL", other._main))
                left = self._wrap({self._fdec(f): self._vdec(v) for f, v in hash_pairs(mine)})
                right = {other._fdec(f): other._vdec(v) for f, v in hash_pairs(theirs)}
                return left | right
            other = other.value
        return self.copy() | other

    def _wrap(self, plain: dict[Any, Any]) -> Any:
        """The builtin type this class mirrors, holding ``plain``."""
        return plain

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, (dict, Dict)):
            return NotImplemented
        return self._merged(other)

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        return other | self.copy()

    def __ior__(self, other: Any) -> Dict:
        self.update(other)
        return self


class DefaultDict(Dict):
    """A ``collections.defaultdict`` on a Redis hash.

    ``d[missing]`` calls ``default_factory()`` and stores its result only if the
    key is still absent (``HSETNX`` inside ``dict_setdefault.lua``); it returns
    the value stored in Redis, which is another process's if that one won the
    race.  ``DefaultDict(int)`` then ``d[k] += 1`` works (read, then write: use
    :class:`~hotsync.Counter` for atomic counting).

    Args:
        default_factory: called without arguments for a missing key; ``None``
            makes missing keys raise ``KeyError``.  It is local to this object:
            every process passes its own.
        initial, key, client, codec: as for :class:`Dict`.

    Differences from ``collections.defaultdict``: those of :class:`Dict`;
    ``copy()``/``.value`` return a ``collections.defaultdict`` with the same
    factory.  Above all, ``d[k]`` is a copy: the ``defaultdict(list)`` idiom
    ``d[k].append(x)`` stores the empty list and loses the append.
    """

    _kind = "defaultdict"

    def __init__(
        self,
        default_factory: Callable[[], Any] | None = None,
        initial: Any = None,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        codec: str | Codec | None = None,
    ) -> None:
        if default_factory is not None and not callable(default_factory):
            raise TypeError("first argument must be callable or None")
        self.default_factory = default_factory
        super().__init__(initial, key, client, codec=codec)

    def _handle_args(self) -> tuple[Any, ...]:
        return (self.default_factory, None, self.key, self._client)

    def __missing__(self, key: Any) -> Any:
        if self.default_factory is None:
            raise KeyError(key)
        value = self.default_factory()
        reply = self._eval_write(_SETDEFAULT, (self._main,), (self._fenc(key), self._venc(value)))
        return value if reply is None else self._vdec(reply)

    def _wrap(self, plain: dict[Any, Any]) -> Any:
        return collections.defaultdict(self.default_factory, plain)

    @property
    def value(self) -> collections.defaultdict[Any, Any]:
        """A ``collections.defaultdict`` copy with this object's factory."""
        return self._wrap(self._snapshot())

    @value.setter
    def value(self, new: Any) -> None:
        Dict.value.fset(self, new)  # type: ignore[attr-defined]

    def copy(self) -> collections.defaultdict[Any, Any]:
        return self.value

    @classmethod
    def fromkeys(  # type: ignore[override]
        cls,
        iterable: Iterable[Any],
        value: Any = None,
        *,
        key: str | None = None,
        client: HotClient | None = None,
        codec: str | Codec | None = None,
    ) -> DefaultDict:
        """A new DefaultDict without factory holding ``dict.fromkeys(iterable, value)``."""
        return cls(None, dict.fromkeys(iterable, value), key=key, client=client, codec=codec)

    def __repr__(self) -> str:
        return f"<hotsync.{type(self).__name__} key={self.key!r} default_factory={self.default_factory!r}>"


# -- views --------------------------------------------------------------------------------


class _KeysView(KeysView):  # type: ignore[type-arg]
    __slots__ = ()

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self._mapping)  # type: ignore[call-overload]


class _ValuesView(ValuesView):  # type: ignore[type-arg]
    __slots__ = ()

    def _snapshot(self) -> list[Any]:
        m: Dict = self._mapping  # type: ignore[assignment]
        return [m._vdec(v) for v in m._client.read(Cmd(("HVALS", m._main)))]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._snapshot())

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self._snapshot())

    def __contains__(self, value: object) -> bool:
        # one HVALS: ValuesView's default does HKEYS then d[k] per key, which raises KeyError
        # (or, on a DefaultDict, stores a default) when a key vanishes in between
        return any(v is value or v == value for v in self._snapshot())


class _ItemsView(ItemsView):  # type: ignore[type-arg]
    __slots__ = ()

    def _snapshot(self) -> list[tuple[Any, Any]]:
        m: Dict = self._mapping  # type: ignore[assignment]
        reply = m._client.read(Cmd(("HGETALL", m._main)))
        return [(m._fdec(f), m._vdec(v)) for f, v in hash_pairs(reply)]

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return iter(self._snapshot())

    def __reversed__(self) -> Iterator[tuple[Any, Any]]:
        return reversed(self._snapshot())

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        m: Dict = self._mapping  # type: ignore[assignment]
        found = m.get(key, _MISSING)  # never triggers __missing__ (defaultdict parity)
        return found is not _MISSING and (found is value or found == value)
