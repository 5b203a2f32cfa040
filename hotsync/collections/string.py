"""String and ImmutableString: Python text kept in one Redis string, as raw UTF-8.

Keys (``K`` is the main key, see :mod:`hotsync._keys`):

======  ======  =====================================================================
key     type    contents / lifetime
======  ======  =====================================================================
``K``   string  the text, UTF-8 (lone surrogates as their 3-byte form, so every
                Python ``str`` round-trips); absent when the text is empty
======  ======  =====================================================================

The text is stored raw, never through a codec (DESIGN §6): ``GET K`` from any
client shows it.  Lengths and positions are in code points, as in Python.

Which Redis call each operation is (one round trip each): reads of the text
(``s[i]``, slicing, ``in``, iteration, comparisons, ``int(s)``/``float(s)``, every
non-mutating ``str`` method): GET, then Python's ``str`` does the work (the text is
transferred); ``len``: ``string_len.lua`` (counts code points in Redis); ``bool``:
STRLEN; ``+=``: APPEND; ``*=``: ``string_repeat.lua``; item and slice assignment and
deletion: ``string_splice.lua``; ``.value =``: ``string_replace.lua``. String's
mutating ``str`` methods (``upper``, ``replace``...) read the text (GET), compute
with Python's ``str`` and store the result with ``string_cas.lua``, which writes
only if the text is still exactly what was read (SHA1), reading again otherwise.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterator, Sequence
from typing import Any, Callable

from .._scripts import script
from ..client import HotClient
from ..codecs import Codec, StrCodec
from ..exceptions import TransactionError
from ._base import Collection, ValueConversions
from ._seq import clamp, index_arg, slice_args

__all__ = ["String", "ImmutableString"]

_REPLACE = script("string_replace")
_CAS = script("string_cas")
_REPEAT = script("string_repeat")
_LEN = script("string_len")
_SPLICE = script("string_splice")

#: Largest Redis string (bytes).
_MAX_BYTES = 512 * 1024 * 1024
#: How many times a mutating str method reads and recomputes before giving up.
_CAS_ATTEMPTS = 50

#: ``str`` methods that return something other than a new string: run on the current text.
_QUERIES = (
    "count", "encode", "endswith", "find", "index", "isalnum", "isalpha", "isascii", "isdecimal",
    "isdigit", "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper",
    "partition", "rfind", "rindex", "rpartition", "rsplit", "split", "splitlines", "startswith",
)  # fmt: skip
#: ``str`` methods that return a new string: String stores the result, ImmutableString returns it.
_TRANSFORMS = (
    "capitalize", "casefold", "center", "expandtabs", "format", "format_map", "join", "ljust", "lower",
    "lstrip", "removeprefix", "removesuffix", "replace", "rjust", "rstrip", "strip", "swapcase", "title",
    "translate", "upper", "zfill",
)  # fmt: skip


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", "surrogatepass")


def _probe_index(i: Any) -> None:
    ""[i]


def _probe_slice(sl: slice) -> None:
    ""[sl]


class _Text(ValueConversions, Collection, Sequence):
    """What String and ImmutableString share: the key, the reads, str's query methods."""

    _kind = "string"

    def __init__(
        self,
        initial: str | None = None,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        codec: str | Codec | None = None,
    ) -> None:
        if not (codec is None or codec == "str" or isinstance(codec, StrCodec)):
            raise ValueError(f"{type(self).__name__} stores raw UTF-8 text; codec must be None or 'str'")
        super().__init__(None, key, client)
        if initial is not None:
            self._store(initial)

    def _handle_kwargs(self) -> dict[str, Any]:
        return {}  # raw text whatever the client's codec

    def _store(self, text: Any) -> None:
        """Replace the stored text atomically (refuses a key of another Redis type)."""
        self._eval_write(_REPLACE, (self._main,), (_encode(self._text(text, "value")),))

    @staticmethod
    def _text(value: Any, what: str) -> str:
        if isinstance(value, _Text):
            return value.value
        if not isinstance(value, str):
            raise TypeError(f"{what} must be str, not {type(value).__name__}")
        return value

    # -- reads ---------------------------------------------------------------------

    @property
    def value(self) -> str:
        """The current text as a plain ``str`` (one GET; ``""`` when the key is absent)."""
        return _decode(self._read("GET", self._main))

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __len__(self) -> int:
        """Length in code points, counted by Redis (one script; the text is not transferred)."""
        return self._eval_read(_LEN, (self._main,), ())

    def __bool__(self) -> bool:
        return self._read("STRLEN", self._main) > 0

    def __getitem__(self, index: Any) -> str:
        return self.value[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.value)

    def __reversed__(self) -> Iterator[str]:
        return reversed(self.value)

    def __contains__(self, sub: object) -> bool:
        if isinstance(sub, _Text):
            sub = sub.value
        return sub in self.value  # type: ignore[operator]  # str raises str's TypeError

    # -- operators returning plain str -------------------------------------------

    def __add__(self, other: Any) -> str:
        if isinstance(other, _Text):
            other = other.value
        if not isinstance(other, str):
            raise TypeError(f'can only concatenate str (not "{type(other).__name__}") to str')
        return self.value + other

    def __radd__(self, other: Any) -> str:
        if not isinstance(other, str):
            return NotImplemented
        return other + self.value

    def __mul__(self, times: Any) -> str:
        return self.value * times

    def __rmul__(self, times: Any) -> str:
        return times * self.value

    def __mod__(self, args: Any) -> str:
        return self.value % args

    def _other(self, other: Any) -> str | None:
        if isinstance(other, _Text):
            return other.value
        return other if isinstance(other, str) else None

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

    maketrans = staticmethod(str.maketrans)


def _query(name: str) -> Callable[..., Any]:
    method = getattr(str, name)

    def query(self: _Text, *args: Any, **kwargs: Any) -> Any:
        return method(self.value, *args, **kwargs)

    query.__name__ = query.__qualname__ = name
    query.__doc__ = f"``str.{name}`` of the current text (one GET); nothing is written."
    return query


for _name in _QUERIES:
    setattr(_Text, _name, _query(_name))


class ImmutableString(_Text):
    """A ``str`` stored in Redis: read by any process, never changed by this object.

    Model: the text lives at one key, raw UTF-8.  ``initial`` stores it
    (replacing what the key held); afterwards every method and operator only
    reads, exactly like ``str``: ``upper()``, ``+``, ``*``, slicing return plain
    ``str`` values.  ``s += "x"`` rebinds ``s`` to the plain ``str`` result, as
    for any immutable type; nothing is written and no key is created.

    Distributed semantics:
        Every read is one GET of the current text (or one script for ``len``).
        Another process may store a new text at the same key (for example
        with a :class:`String` or a new ``ImmutableString(text, key=...)``);
        readers then see it.  "Immutable" describes this object's API.

    Differences from ``str``:
        * Unhashable (the text at the key can be replaced elsewhere), so it
          cannot be a dict key; use ``.value``.
        * ``isinstance(s, str)`` is False; ``str(s)`` and ``s.value`` give the text.
        * hot-redis rebound ``+=``/``*=`` to a new generated key holding the
          result, leaking one key per operation; hotsync returns a plain ``str``.

    Example::

        banner = ImmutableString("Hello", key="banner")
        assert ImmutableString(key="banner").upper() == "HELLO"
        assert banner == "Hello"
    """


for _name in _TRANSFORMS:
    setattr(ImmutableString, _name, _query(_name))


class String(_Text):
    """A mutable string shared by every process that uses the same key.

    Model: the text lives at one key, raw UTF-8, and this object edits it in
    place.  It reads like a ``str`` (slicing, ``in``, every non-mutating
    ``str`` method) and edits like a list of characters: ``s += t`` appends,
    ``s *= n`` repeats, ``s[i] = t`` and ``s[a:b] = t`` replace characters with
    the text ``t`` (any length for a plain slice, one character per position
    for an extended slice), ``del s[a:b]`` removes them.  The ``str`` methods
    that return a new string (``upper``, ``lower``, ``strip``, ``replace``,
    ``format``, ``join``, ``zfill``...) **store** that new text and return it as
    a plain ``str``; ``s.join(items)`` stores ``s``-joined ``items``.

    Distributed semantics:
        * ``+=`` (APPEND), ``*=``, item/slice assignment and deletion and
          ``.value =`` are each one atomic command or script.
        * The mutating ``str`` methods use Python's own ``str`` (full Unicode
          rules): they read the text, compute, and a script stores the result
          only if the text is unchanged since the read (compare-and-set on its
          SHA1); otherwise they read again.  A concurrent ``+=`` is therefore
          never lost.
        * Inside ``transaction()`` ``+=``, ``*=``, assignment and deletion are
          queued (an out-of-range index then does nothing); reads and the
          mutating ``str`` methods raise :class:`~hotsync.TransactionError`.

    Differences from ``str``:
        * Mutable, hence unhashable; ``isinstance(s, str)`` is False.
        * Item and slice assignment and deletion exist (list-of-characters
          semantics; ``"abcdef"[0:4] = "X"`` gives ``"Xef"``).
        * An empty text is stored as an absent key.

    Example::

        log = String(key="log")
        log += "started\\n"
        log.upper()                  # the stored text is now upper-case
        log[0:7] = "Running"
    """

    @property
    def value(self) -> str:
        """The current text (one GET).  Assigning stores a new text atomically.

        A TTL set on the key is kept (``SET ... KEEPTTL``); assigning ``""``
        deletes the key, and so its TTL.
        """
        return _decode(self._read("GET", self._main))

    @value.setter
    def value(self, new: str) -> None:
        self._store(new)

    def __iadd__(self, other: Any) -> String:
        if isinstance(other, _Text):
            other = other.value
        if not isinstance(other, str):
            raise TypeError(f'can only concatenate str (not "{type(other).__name__}") to str')
        if other:
            self._write("APPEND", self._main, _encode(other), idempotent=False)
        return self

    def __imul__(self, times: Any) -> String:
        operator.imul("", times)  # TypeError / OverflowError, as str raises them
        n = clamp(operator.index(times))
        if self._eval_write(_REPEAT, (self._main,), (n, _MAX_BYTES), idempotent=False) == -1:
            raise MemoryError(f"string {self.key!r} * {times} would exceed Redis' 512 MB string limit")
        return self

    def __setitem__(self, index: Any, text: Any) -> None:
        text = self._text(text, "assigned value")
        self._splice(index, "set", text)

    def __delitem__(self, index: Any) -> None:
        self._splice(index, "del", "")

    def _splice(self, index: Any, op: str, text: str) -> None:
        if isinstance(index, slice):
            start, stop, step = slice_args(index, _probe_slice)
            args: tuple[Any, ...] = ("slice", start, stop, step, op, _encode(text))
        else:
            i = index_arg(index, _probe_index, "string index out of range")
            args = ("index", i, 0, 1, op, _encode(text))
        reply = self._eval_write(_SPLICE, (self._main,), args, idempotent=False)
        if reply is None:  # queued in a transaction
            return
        if reply[0] == 0:
            raise IndexError("string assignment index out of range")
        if reply[0] == -1:
            raise ValueError(f"attempt to assign sequence of size {len(text)} to extended slice of size {reply[1]}")

    def _transform(self, fn: Callable[[str], str]) -> str:
        """Store ``fn(text)`` by compare-and-set; return it."""
        if self._client.in_transaction():
            raise TransactionError("String's str methods read the text first; they cannot run inside transaction()")
        for _ in range(_CAS_ATTEMPTS):
            raw = self._read("GET", self._main) or b""
            new = _encode(fn(_decode(raw)))
            if new == raw:
                return _decode(new)
            # not retried blindly: after a lost reply and a concurrent edit, a retry would
            # recompute from the edited text and apply a non-idempotent change (replace) twice
            digest = hashlib.sha1(raw).hexdigest()
            if self._eval_write(_CAS, (self._main,), (digest, new), idempotent=False) == 1:
                return _decode(new)
        raise RuntimeError(f"string {self.key!r} changed during each of {_CAS_ATTEMPTS} attempts")


def _transform(name: str) -> Callable[..., str]:
    method = getattr(str, name)

    def transform(self: String, *args: Any, **kwargs: Any) -> str:
        return self._transform(lambda text: method(text, *args, **kwargs))

    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = (
        f"Store ``str.{name}(text, ...)`` as the new text and return it (a plain ``str``).\n\n"
        "Read, compute with Python's str, compare-and-set (repeated if the text changed meanwhile)."
    )
    return transform


for _name in _TRANSFORMS:
    setattr(String, _name, _transform(_name))
del _name
