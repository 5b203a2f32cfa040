"""Int and Float: ``int`` and ``float`` stored as Redis numbers, with in-place operators that persist.

Keys (``K`` is the object's main key; nothing else is created):

====================  =======  ==============================================
key                   type     contents
====================  =======  ==============================================
``K``                 string   the number as plain text: ``str(int)`` or
                               ``repr(float)``; missing reads as 0
====================  =======  ==============================================

The text is what other clients expect of a Redis number: ``INCRBY`` works on
an Int, ``INCRBYFLOAT`` on both, ``GET`` shows the value.

Scripts: ``lua/number_iop.lua`` (every in-place operator except ``Int += int``
and ``Int -= int``, which are native ``INCRBY``/``DECRBY`` outside ``transaction()``), ``number_set.lua``
(``initial``, ``.value =``).
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any, ClassVar

from redis import exceptions as rx

from .._ops import Cmd, Eval
from .._scripts import script
from ..client import HotClient
from ..codecs import Codec
from ..exceptions import WrongTypeError
from ._base import Collection, ValueConversions
from ._cross import colocated, read_together

__all__ = ["Int", "Float"]

_IOP = script("number_iop")
_SET = script("number_set")

_MIN = -(2**63)
_MAX = 2**63 - 1

_SYMBOL = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**",
    "lshift": "<<", "rshift": ">>", "and": "&", "or": "|", "xor": "^",
}
_PYOP = {
    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "lshift": operator.lshift, "rshift": operator.rshift,
}
_INT_ONLY = frozenset(("lshift", "rshift", "and", "or", "xor"))


class _Number(ValueConversions, Collection):
    """What Int and Float share: parsing, the in-place machinery, snapshot arithmetic."""

    _zero: ClassVar[int | float] = 0
    _type_char: ClassVar[str] = "i"

    def __init__(
        self,
        initial: Any = None,
        key: str | None = None,
        client: HotClient | None = None,
        *,
        codec: str | Codec | None = None,
    ) -> None:
        # codec is accepted for a uniform signature; numbers are always plain text.
        super().__init__(initial, key, client, codec=codec)

    # -- text <-> number ------------------------------------------------------------

    def _parse(self, data: bytes | None) -> int | float:
        raise NotImplementedError

    def _text(self, value: Any) -> bytes:
        raise NotImplementedError

    def _not_a_number(self, data: Any) -> WrongTypeError:
        return WrongTypeError(f"key {self._main!r} holds {data!r}, which is not a number", key=self._main)

    @property
    def value(self) -> Any:
        """The number (one ``GET``); assigning stores ``int(new)`` / ``float(new)`` atomically.

        Assigning (or ``initial=``) keeps a TTL set on the key (``SET ... KEEPTTL``),
        as ``+=`` and the other in-place operators do.
        """
        return self._parse(self._client.read(Cmd(("GET", self._main))))

    @value.setter
    def value(self, new: Any) -> None:
        if isinstance(new, _Number):
            new = new.value
        self._eval_write(_SET, (self._main,), (self._text(new),))

    def _both(self, other: Any) -> tuple[Any, Any]:
        """(self's value, other's value): one round trip for two colocated hotsync numbers."""
        if isinstance(other, _Number):
            if colocated(self, other):
                a, b = read_together(self, ("GET", self._main), other, ("GET", other._main))
                return self._parse(a), other._parse(b)
            return self.value, other.value
        return self.value, other

    # -- in-place operators: one command or one script, persisted -----------------------

    def _as(self, kind: bytes | str) -> _Number:
        """The object to rebind to: self, or the other number type on the same key."""
        cls = Int if kind in (b"i", "i") else Float
        if isinstance(self, cls):
            return self
        return cls(key=self.key, client=self._client)

    def _iop(self, op: str, other: Any) -> _Number:
        """Apply ``self op= other`` in Redis (``number_iop.lua``) and return the rebound object."""
        mine = self._type_char
        if isinstance(other, _Number):
            theirs = other._type_char
            if colocated(self, other):
                keys: tuple[str, ...] = (self._main, other._main)
                args: tuple[Any, ...] = (op,)
            else:
                other = other.value
        if not isinstance(other, _Number):
            if isinstance(other, numbers.Integral):
                theirs, text = "i", b"%d" % int(other)
            elif isinstance(other, float):
                theirs, text = "f", float.__repr__(other).encode()
            else:
                raise TypeError(
                    f"unsupported operand type(s) for {_SYMBOL[op]}=: '{type(self).__name__}' and "
                    f"'{type(other).__name__}' (in-place operators take int, float, Int or Float)"
                )
            if op in _INT_ONLY and (mine == "f" or theirs == "f"):
                raise TypeError(
                    f"unsupported operand type(s) for {_SYMBOL[op]}=: '{type(self).__name__}' and "
                    f"'{type(other).__name__}'"
                )
            if op in ("truediv", "floordiv", "mod") and other == 0:
                _PYOP[op](1 if mine == "i" else 1.0, other)  # Python's own ZeroDivisionError, before any write
            elif op in ("lshift", "rshift") and other < 0:
                _PYOP[op](1, other)  # ValueError: negative shift count
            keys, args = (self._main,), (op, text)
        try:
            reply = self._client.write(Eval(_IOP, keys, args, idempotent=False))
        except rx.ResponseError as exc:
            raise self._iop_error(exc, op, keys[1] if len(keys) > 1 else None) from None
        if reply is None:  # queued in a transaction: predict the type as Python would
            floaty = mine == "f" or theirs == "f" or op == "truediv"
            if op == "pow" and not isinstance(other, _Number) and other < 0:
                floaty = True
            return self._as("f" if floaty else "i")
        return self._as(reply[0])

    def _iop_error(self, exc: rx.ResponseError, op: str, source: str | None = None) -> Exception:
        """The Python exception for an error of ``number_iop.lua``; ``source``: the operand's key, if any."""
        msg = str(exc)
        code, _, detail = msg.partition(" ")
        if code == "OVERFLOW":
            if detail == "f":
                return OverflowError(34, "Numerical result out of range")
            return OverflowError(
                f"{type(self).__name__} {self.key!r}: the result of {_SYMBOL[op]}= leaves the signed 64-bit "
                "range of Redis integers; nothing was written"
            )
        if code == "INTFLOAT":  # Python's messages for these conversions
            return OverflowError("int too large to convert to float")
        if code == "INTDIV":
            return OverflowError("integer division result too large for a float")
        if code == "ZERODIV":
            kind = detail.split()[-1]
            try:
                _PYOP[op](0.0 if op == "pow" else (1 if kind == "i" else 1.0), -1.0 if op == "pow" else 0)
            except ZeroDivisionError as zde:
                return zde
        if code == "NAN":
            if detail == "value":
                return WrongTypeError(f"key {self._main!r} does not hold a number", key=self._main)
            if source is not None:  # the other Int/Float's key holds text that is not a number
                return WrongTypeError(f"key {source!r} (the operand) does not hold a number", key=source)
            return WrongTypeError(f"the operand of key {self._main!r} does not hold a number", key=self._main)
        if code == "COMPLEX":
            return ValueError("negative number cannot be raised to a fractional power")
        if code == "TYPE":
            return TypeError(f"unsupported operand type(s) for {_SYMBOL[op]}=: a float is involved")
        if code == "NEGSHIFT":
            return ValueError("negative shift count")
        return exc

    def __iadd__(self, other: Any) -> _Number:
        return self._iop("add", other)

    def __isub__(self, other: Any) -> _Number:
        return self._iop("sub", other)

    def __imul__(self, other: Any) -> _Number:
        return self._iop("mul", other)

    def __itruediv__(self, other: Any) -> _Number:
        return self._iop("truediv", other)

    def __ifloordiv__(self, other: Any) -> _Number:
        return self._iop("floordiv", other)

    def __imod__(self, other: Any) -> _Number:
        return self._iop("mod", other)

    def __ipow__(self, other: Any, modulo: Any = None) -> _Number:
        if modulo is not None:
            raise TypeError("in-place pow() takes no modulo")
        return self._iop("pow", other)

    # -- snapshot arithmetic: plain Python results ---------------------------------------

    def __add__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a + b

    def __radd__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b + a

    def __sub__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a - b

    def __rsub__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b - a

    def __mul__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a * b

    def __rmul__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b * a

    def __truediv__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a / b

    def __rtruediv__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b / a

    def __floordiv__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a // b

    def __rfloordiv__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b // a

    def __mod__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a % b

    def __rmod__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b % a

    def __divmod__(self, other: Any) -> Any:
        a, b = self._both(other)
        return divmod(a, b)

    def __rdivmod__(self, other: Any) -> Any:
        a, b = self._both(other)
        return divmod(b, a)

    def __pow__(self, other: Any, modulo: Any = None) -> Any:
        a, b = self._both(other)
        if modulo is None:
            return a**b
        return pow(a, b, modulo.value if isinstance(modulo, _Number) else modulo)

    def __rpow__(self, other: Any, modulo: Any = None) -> Any:
        a, b = self._both(other)
        if modulo is None:
            return b**a
        return pow(b, a, modulo.value if isinstance(modulo, _Number) else modulo)

    def __neg__(self) -> Any:
        return -self.value

    def __pos__(self) -> Any:
        return +self.value

    def __abs__(self) -> Any:
        return abs(self.value)

    # -- comparisons (== from Collection: self.value == other) -----------------------------

    def __eq__(self, other: object) -> bool:
        a, b = self._both(other)
        return a == b  # type: ignore[no-any-return]

    def __ne__(self, other: object) -> bool:
        a, b = self._both(other)
        return a != b  # type: ignore[no-any-return]

    def __lt__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a < b

    def __le__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a <= b

    def __gt__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a > b

    def __ge__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a >= b

    __hash__ = None  # type: ignore[assignment]

    # -- conversions --------------------------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self.value)

    def __trunc__(self) -> int:
        return math.trunc(self.value)

    def __floor__(self) -> int:
        return math.floor(self.value)

    def __ceil__(self) -> int:
        return math.ceil(self.value)

    def __round__(self, ndigits: Any = None) -> Any:
        return round(self.value) if ndigits is None else round(self.value, ndigits)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __str__(self) -> str:
        """The number as ``str()`` shows it (one read; ``repr()`` does no I/O)."""
        return str(self.value)

    @property
    def real(self) -> Any:
        return self.value.real

    @property
    def imag(self) -> Any:
        return self.value.imag

    def conjugate(self) -> Any:
        return self.value.conjugate()

    def as_integer_ratio(self) -> tuple[int, int]:
        return self.value.as_integer_ratio()  # type: ignore[no-any-return]

    def is_integer(self) -> bool:
        v = self.value
        return True if isinstance(v, int) else v.is_integer()


class Int(_Number, numbers.Integral):
    """An ``int`` stored as a Redis integer; in-place operators change the stored value.

    ``x += n`` is one ``INCRBY`` (``-=``: ``DECRBY``); every other in-place
    operator (``*= /= //= %= **= <<= >>= &= |= ^=``) is one Lua script that
    applies Python's semantics exactly.  Binary operators, comparisons and
    conversions (``int(x)``, ``float(x)``, ``operator.index(x)``, ``bool(x)``,
    ``round(x)``...) read the current value once and return plain Python numbers.

    Args:
        initial: stored as ``int(initial)`` (replacing what is there);
            ``None`` attaches to the key (a missing key reads as 0).
        key, client: as for every collection.
        codec: accepted for a uniform signature and ignored: numbers are
            always stored as decimal text.

    Distributed semantics:
        In-place operators are atomic across hosts: processes doing ``+=``
        concurrently lose nothing.  ``x = x + 1`` is a read, then a *new local
        int*: only in-place operators and ``.value =`` write.

    Differences from ``int``:
        * The range is Redis's: signed 64-bit.  A result outside it raises
          ``OverflowError`` and writes nothing (operands up to 40 digits are
          accepted: ``x //= 10**30`` works).
        * Like Python, ``x /= 4`` makes ``x`` a float: the key then holds
          ``2.5`` and the operator returns a :class:`Float` on the same key, so
          ``x`` is rebound to it.  An ``Int`` whose key holds a non-integral
          number (after ``/=``, or written by another client) reads it as a
          ``float``; it never truncates.  The same goes for ``x += 0.5`` and
          ``x **= -1``.
        * True division of integers above 2**53 may differ from Python's
          correctly rounded result in the last bit (the server divides doubles).
        * Unhashable (it is mutable shared state), like every collection.
        * In-place operators take ``int``/``float``/``Int``/``Float``; other
          operands raise ``TypeError`` instead of silently rebinding to a
          local value.  Inside :func:`~hotsync.transaction` they are queued;
          errors (overflow...) then surface at the end of the block.

    Two hotsync numbers:
        ``x += y`` (any in-place operator) with ``y`` an Int/Float on the same
        client (and, on a cluster, the same slot) runs as one script reading
        ``y`` inside Redis: atomic over both keys.  Otherwise ``y`` is read
        first, then applied: each step atomic, the pair not.  ``x + y`` and
        comparisons read both values in one MULTI/EXEC when colocated.

    Example::

        hits = Int(key="hits")
        hits += 1          # INCRBY hits 1
        int(hits), bool(hits)
    """

    _kind = "int"
    _zero = 0
    _type_char = "i"

    def _parse(self, data: bytes | None) -> int | float:
        if data is None:
            return 0
        try:
            return int(data)
        except ValueError:
            try:
                return float(data)
            except ValueError:
                raise self._not_a_number(data) from None

    def _text(self, value: Any) -> bytes:
        n = int(value)
        if not _MIN <= n <= _MAX:
            raise OverflowError(f"Int holds a signed 64-bit Redis integer; {n} is out of range")
        return b"%d" % n

    def _incr(self, cmd: str, other: int) -> _Number:
        try:
            self._client.write(Cmd((cmd, self._main, other), idempotent=False))
        except rx.ResponseError as exc:
            msg = str(exc)
            if "overflow" in msg:
                raise OverflowError(
                    f"Int {self.key!r}: the result leaves the signed 64-bit range of Redis integers; "
                    "nothing was written"
                ) from None
            if "not an integer" in msg:  # the key holds a float: Python's int + float
                return self._iop("add" if cmd == "INCRBY" else "sub", other)
            raise
        return self

    # INCRBY/DECRBY fail on a key holding a float, and _incr then falls back to the script;
    # inside transaction() there is no reply to fall back on, so the script is queued directly

    def __iadd__(self, other: Any) -> _Number:
        if type(other) is int and _MIN <= other <= _MAX and not self._client.in_transaction():
            return self._incr("INCRBY", other)
        return self._iop("add", other)

    def __isub__(self, other: Any) -> _Number:
        # not -2**63: Redis < 7 negates a DECRBY argument without an overflow check and
        # would add it instead; the script path computes that case exactly
        if type(other) is int and _MIN < other <= _MAX and not self._client.in_transaction():
            return self._incr("DECRBY", other)
        return self._iop("sub", other)

    def __ilshift__(self, other: Any) -> _Number:
        return self._iop("lshift", other)

    def __irshift__(self, other: Any) -> _Number:
        return self._iop("rshift", other)

    def __iand__(self, other: Any) -> _Number:
        return self._iop("and", other)

    def __ior__(self, other: Any) -> _Number:
        return self._iop("or", other)

    def __ixor__(self, other: Any) -> _Number:
        return self._iop("xor", other)

    def __lshift__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a << b

    def __rlshift__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b << a

    def __rshift__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a >> b

    def __rrshift__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b >> a

    def __and__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a & b

    def __rand__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b & a

    def __or__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a | b

    def __ror__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b | a

    def __xor__(self, other: Any) -> Any:
        a, b = self._both(other)
        return a ^ b

    def __rxor__(self, other: Any) -> Any:
        a, b = self._both(other)
        return b ^ a

    def __invert__(self) -> Any:
        return ~self.value

    def __index__(self) -> int:
        return operator.index(self.value)

    @property
    def numerator(self) -> int:
        return self.value.numerator  # type: ignore[no-any-return]

    @property
    def denominator(self) -> int:
        return self.value.denominator  # type: ignore[no-any-return]

    def bit_length(self) -> int:
        return self.value.bit_length()  # type: ignore[no-any-return]

    def bit_count(self) -> int:
        return self.value.bit_count()  # type: ignore[no-any-return]

    def to_bytes(self, length: int = 1, byteorder: str = "big", *, signed: bool = False) -> bytes:
        return self.value.to_bytes(length, byteorder, signed=signed)  # type: ignore[no-any-return]


class Float(_Number, numbers.Real):
    """A ``float`` stored as Redis number text; in-place operators change the stored value.

    Every in-place operator (``+= -= *= /= //= %= **=``) is one Lua script
    computing in IEEE doubles with CPython's rules, so results are exactly
    Python's, and the stored text is ``repr(result)``: a float round-trips
    exactly.  ``INCRBYFLOAT`` is deliberately not used: it adds in long
    double and prints 17 digits, so ``0.1 + 0.2`` would store ``0.3`` instead
    of Python's ``0.30000000000000004``.  Other clients may still
    ``INCRBYFLOAT`` the key; the result is then read as the float nearest to
    the text Redis wrote.

    Args:
        initial: stored as ``float(initial)`` (replacing what is there);
            ``None`` attaches to the key (a missing key reads as 0.0).
        key, client: as for every collection.
        codec: accepted and ignored (numbers are always plain text).

    Differences from ``float``: in-place operators persist (atomic, one
    script); unhashable; ``x **= y`` with a result Python would make complex
    raises ``ValueError`` (a Float cannot hold it); other differences as for
    :class:`Int`.

    Example::

        load = Float(0.0, key="load")
        load += 0.25
    """

    _kind = "float"
    _zero = 0.0
    _type_char = "f"

    def _parse(self, data: bytes | None) -> float:
        if data is None:
            return 0.0
        try:
            return float(data)
        except ValueError:
            raise self._not_a_number(data) from None

    def _text(self, value: Any) -> bytes:
        return float.__repr__(float(value)).encode()

    def hex(self) -> str:
        return self.value.hex()  # type: ignore[no-any-return]
