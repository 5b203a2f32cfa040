"""The wire under :class:`hotsync.HotClient`: packing commands, waiting on sockets,
idle connections, routing and reading replies, translating Redis errors.

Small functions with no state of their own; :mod:`hotsync.client` holds the
connections and decides what to send.
"""

from __future__ import annotations

import random
import re
import select
from collections.abc import Sequence
from typing import Any

from redis import exceptions as rx

try:  # redis[hiredis] is a dependency; without it, redis-py packs
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover
    _hiredis_pack = None

from ._retry import is_not_applied
from .exceptions import ScriptReplyError, WrongTypeError

__all__: list[str] = []

_IDLE_MAX = 4
_NUDGES = 7  # nudges 1 ms after a blocking command's timeout, then 1, 2 ... 32 ms apart (64 ms after the last: read)
_NUDGE_TIMEOUT = 1.0  # seconds a nudge's PING may take before nudging stops

#: Attempts of a guarded transaction (see HotClient.perform_guarded); the last watches nothing.
_GUARD_ATTEMPTS = 32
_HAS_POLL = hasattr(select, "poll")
#: How a script names which of its keys has the wrong type: "WRONGTYPE ... (key #2)" is KEYS[2].
_KEY_INDEX = re.compile(r"\(key #(\d+)\)")


def _pack(conn: Any, args: Sequence[Any]) -> list[bytes]:
    """RESP chunks of one command: hiredis directly (what redis-py calls too, minus its
    per-argument Python pass: ~20k instructions less per script call); redis-py for
    what hiredis refuses (its DataError) and for command names written with a space."""
    if _hiredis_pack is not None and not (type(args[0]) is str and " " in args[0]):
        try:
            return [_hiredis_pack(tuple(args))]
        except TypeError:
            pass
    return conn.pack_command(*args)


def _mark_unsent(exc: BaseException) -> None:
    """Tag an error raised before the command left this process (safe to retry)."""
    try:
        exc.hotsync_sent = False  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - exceptions without __dict__
        pass


def _reply_within(conn: Any, wait: float) -> bool:
    """Whether ``conn`` has a reply (or an error: EOF) to read within ``wait`` seconds.

    With hiredis on a plain socket (the usual case): its buffer, then one ``poll``;
    redis-py's ``can_read`` costs two more system calls (it also peeks for EOF,
    which the read that follows reports anyway), measured at ~5 us per blocking
    call here.  Other parsers and TLS sockets (which buffer above the socket)
    go through ``can_read``."""
    reader = getattr(conn._parser, "_reader", None)
    sock = conn._sock
    if reader is None or sock is None or hasattr(sock, "pending") or not hasattr(reader, "has_data"):
        return bool(conn.can_read(timeout=wait))
    return reader.has_data() or _readable(sock, wait)


def _give_back(idle: list[Any], pool: Any) -> None:
    """Return idle connections to the pool they were taken from."""
    while idle:
        try:
            conn = idle.pop()
        except IndexError:  # another thread took it
            break
        try:
            pool.release(conn)
        except Exception:  # noqa: BLE001 - interpreter shutdown, a pool already disconnected
            conn.disconnect()


def _exec_result(replies: list[Any]) -> list[Any] | None:
    """EXEC's replies from the replies to MULTI, the queued commands and EXEC; None
    when EXEC applied nothing because a WATCHed key changed.  EXECABORT (a command
    refused when queued) raises that command's error."""
    result = replies[-1]
    if isinstance(result, Exception):
        queued_errors = [r for r in replies[1:-1] if isinstance(r, Exception)]
        raise queued_errors[0] if queued_errors else result
    return None if result is None else list(result)


def _guard_backoff(attempt: int) -> float:
    """Seconds before the next attempt of a guarded transaction whose EXEC was aborted:
    jittered, growing to a few milliseconds (another writer was just active)."""
    return random.uniform(0, min(0.0002 * 2 ** attempt, 0.005))


def _take_idle(idle: list[Any]) -> Any:
    """An idle connection, checked the way redis-py's pool checks one: a socket
    with something to read (the server closed it, or stray bytes) is reconnected
    before use, so a restarted server costs a clean reconnect, not an ambiguous
    reply.  None when there is none (another thread took the last)."""
    try:
        conn = idle.pop()
    except IndexError:
        return None
    sock = getattr(conn, "_sock", None)
    if sock is not None and _readable(sock):
        conn.disconnect()
    return conn


def _readable(sock: Any, wait: float = 0.0) -> bool:
    """Whether ``sock`` has something to read (or was closed) within ``wait`` seconds."""
    if _HAS_POLL:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(wait * 1000.0))
    return bool(select.select([sock], [], [], wait)[0])  # Windows: no poll(); select() takes sockets


def _routing_key(args: Sequence[Any]) -> Any:
    """The key a command is routed by on a cluster (None: any node).

    The first argument after the name, except for EVAL/EVALSHA (their first key)
    and CLIENT (no key).
    """
    if len(args) < 2:
        return None
    name = str(args[0]).upper()
    if name in ("EVALSHA", "EVAL"):
        return args[3] if len(args) > 3 and int(args[2]) > 0 else None
    if name == "CLIENT":
        return None
    return args[1]


def _asks(reply: Any, first: Any) -> bool:
    """Whether ``reply`` is an ``-ASK`` redirect to the node ``first`` (one) names."""
    return (type(reply) is rx.AskError and type(first) is rx.AskError
            and (reply.host, reply.port) == (first.host, first.port))


def _wrong_node(exc: rx.ResponseError) -> bool:
    """Whether an error reply says the server is not a usable master (after a failover)."""
    return isinstance(exc, rx.ReadOnlyError) or str(exc).startswith("MASTERDOWN")


def _reply_mode(command: Sequence[Any]) -> str | None:
    """The argument of a ``CLIENT REPLY`` command (``"SKIP"``, ``"ON"``...; ``""``
    without one), None for any other command.  ``CLIENT REPLY SKIP`` pipelined before
    a command means no reply to either; any other use would leave hotsync, which reads
    one reply per command, out of step with the server."""
    if len(command) < 2 or (type(command[0]) is str and command[0][:1] not in ("c", "C")):
        return None  # the common case, decided without upper()
    if str(command[0]).upper() == "CLIENT" and str(command[1]).upper() == "REPLY":
        return str(command[2]).upper() if len(command) > 2 else ""
    return None


def _reply_mode_refused() -> ValueError:
    return ValueError("CLIENT REPLY cannot be sent alone through a HotClient: it reads one reply per command "
                      "(only a pipelined SKIP is supported; use the redis-py client, HotClient.redis)")


def _translate(exc: rx.ResponseError, key: str | None, what: str, keys: Sequence[str] = ()) -> Exception:
    """A hotsync exception for an error reply, or ``exc`` itself.

    ``key`` is the key the error names by default; a script whose WRONGTYPE
    error ends ``(key #i)`` names ``keys[i - 1]`` (its KEYS[i]) instead: a
    script reading a second object's key reports that key, not its first one.
    """
    msg = str(exc)
    if is_not_applied(exc):  # a refusal (READONLY...) names no script bug, even from a script
        return exc
    if "WRONGTYPE" in msg:
        named = _KEY_INDEX.search(msg)
        if named is not None and 0 < int(named.group(1)) <= len(keys):
            key = keys[int(named.group(1)) - 1]
        return WrongTypeError(f"key {key!r} holds a Redis type that {what} cannot use: {msg}", key=key)
    if "Error running script" in msg or "user_script" in msg:
        return ScriptReplyError(f"script {what} failed on key {key!r}: {msg}", key=key)
    return exc

