"""HotClient, the process-wide default client, and ``transaction()``.

A :class:`HotClient` owns what every hotsync object needs: the redis-py client
(``.redis``), the retry policy, the default codec, an optional key prefix and
the metrics handle.  It runs hotsync's commands itself on connections borrowed
from the redis-py connection pool, so that:

* redis-py's built-in retries never re-send a hotsync command behind hotsync's
  back (redis-py 8 retries *every* command 10 times by default; a lost reply
  then applies ``INCR`` twice or makes ``SET NX`` answer "busy" on a lock we
  hold).  :mod:`hotsync._retry` decides instead;
* every read has its own timeout: blocking waits of any length work whatever
  the client's ``socket_timeout`` (a ``BLPOP key 7`` on a default redis-py 8
  client fails after ~59 s), and lease renewals give up in time;
* a blocking command ends when its own timeout does: Redis times blocked
  clients out only when its event loop wakes, which on an idle server is once
  per ``1/hz`` s (100 ms at the default ``hz 10``: ``BLPOP key 0.02`` returned
  after 100 ms here).  Once a wait's timeout has passed without a reply, the
  client sends a ``PING`` on another connection to the same server, which wakes
  that loop, and the timed-out command answers at once (see ``_await_reply``).
  Likewise a script pipelined by SHA in front of a blocking command that meets
  ``NOSCRIPT`` (the server lost its script cache) is run by body on another
  connection before the client waits (see ``_rescuer``);
* replies are raw bytes regardless of ``decode_responses``;
* a few idle connections (at most 4) are kept out of the pool (single node, and
  a plain pool of at least 100 connections, redis-py 8's default: a smaller or
  blocking one is left alone for the caller's client): taking
  one from redis-py 8's pool and giving it back costs ~10 us, a seventh of a
  loopback round trip.  An idle connection whose socket has anything to read
  (the server closed it) is reconnected before use, as the pool would; a
  forked child drops its parent's.

Socket-level helpers (packing, polling, idle connections, error translation)
are in :mod:`hotsync._wire`; ``transaction()`` is in :mod:`hotsync._transaction`
and re-exported here.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import redis
from redis import exceptions as rx
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._keys import full_key, index_key, new_key
from ._ops import Batch, Call, Cmd, Eval, Ops
from ._pickling import client_from_recipe, client_recipe
from ._retry import RetryPolicy, is_not_applied
from ._scripts import Script, by_sha
from ._transaction import Transaction, _active_transaction, transaction
from ._wire import (
    _asks,
    _exec_result,
    _give_back,
    _GUARD_ATTEMPTS,
    _guard_backoff,
    _IDLE_MAX,
    _mark_unsent,
    _NUDGE_TIMEOUT,
    _NUDGES,
    _pack,
    _reply_mode,
    _reply_mode_refused,
    _reply_within,
    _routing_key,
    _take_idle,
    _translate,
    _wrong_node,
)
from .codecs import Codec, get_codec
from .exceptions import TransactionError
from .metrics import Metrics, NullMetrics, get_metrics

__all__ = ["HotClient", "configure", "default_client", "transaction", "Transaction"]

_DEFAULT = object()

try:
    from redis._defaults import DEFAULT_SOCKET_TIMEOUT as _REDIS_DEFAULT_SOCKET_TIMEOUT
except ImportError:  # pragma: no cover - other redis-py versions: assume a timeout is set
    _REDIS_DEFAULT_SOCKET_TIMEOUT = 10.0

#: Connection settings hotsync uses for clients it creates (overridable).
CLIENT_DEFAULTS: dict[str, Any] = {
    "socket_timeout": 10.0,
    "socket_connect_timeout": 5.0,
    "socket_keepalive": True,
}






class HotClient:
    """A connection to Redis plus hotsync's policies.

    Args:
        host: Redis host (default ``localhost``); ignored with ``client=``.
        port: Redis port (default 6379).
        client: an existing ``redis.Redis`` (also one from ``Sentinel.master_for``)
            or ``redis.RedisCluster`` to use instead of creating one.  hotsync
            borrows its connection pool but applies its own retry policy and
            read timeouts.
        key_prefix: prepended to every key (namespacing, ACL confinement).
        codec: default value codec of objects on this client (``"json"``).
        retry: the :class:`~hotsync.RetryPolicy` (default: 10 s budget).
        metrics: ``True`` (prometheus_client's global registry), a
            ``CollectorRegistry``, a :class:`~hotsync.metrics.Metrics`, or
            ``False`` to switch instrumentation off.
        name_label: how object keys appear in the metrics' ``name`` label
            (``True``: as is, ``False``: dropped, or a callable mapping).
        **redis_kwargs: passed to ``redis.Redis``.  hotsync's defaults are
            ``socket_timeout=10``, ``socket_connect_timeout=5``,
            ``socket_keepalive=True``; redis-py's own retries are disabled.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        client: redis.Redis | redis.RedisCluster | None = None,
        key_prefix: str = "",
        codec: str | Codec | None = "json",
        retry: RetryPolicy | None = None,
        metrics: Any = True,
        name_label: Any = True,
        **redis_kwargs: Any,
    ) -> None:
        if not isinstance(key_prefix, str):
            raise TypeError("key_prefix must be a str")
        if client is None:
            if redis_kwargs.get("decode_responses"):
                raise ValueError("hotsync decodes values with its codec; do not pass decode_responses=True")
            kwargs = {**CLIENT_DEFAULTS, **redis_kwargs}
            kwargs["retry"] = Retry(NoBackoff(), 0)
            kwargs["decode_responses"] = False
            client = redis.Redis(host=host or "localhost", port=port or 6379, **kwargs)
        elif host is not None or port is not None or redis_kwargs:
            raise TypeError("pass either client= or connection arguments, not both")
        self.redis = client
        self._cluster = isinstance(client, redis.RedisCluster)
        self.key_prefix = key_prefix
        self.codec = get_codec(codec)
        self.retry = retry if retry is not None else RetryPolicy()
        if isinstance(metrics, (Metrics, NullMetrics)):
            self.metrics = metrics
        elif metrics is False or metrics is None:
            self.metrics = NullMetrics()
        else:
            self.metrics = get_metrics(None if metrics is True else metrics, name_label=name_label)
        self._name_label = name_label  # kept for pickling (see hotsync._pickling)
        self._registered: set[tuple[str, str]] = set()
        self._read_margin = self._socket_timeout() or 10.0
        # without a socket timeout a read already waits as long as a blocking command
        # needs: setting a per-read timeout would only cost syscalls (2 ioctl + poll)
        self._timed_reads = self._socket_timeout() is not None
        # idle connections kept out of redis-py's pool (see _may_keep_idle): taking one
        # from the pool and giving it back costs ~10 us per command in redis-py 8
        self._idle: list[Any] | None = [] if self._may_keep_idle() else None
        self._reply_skip: bool | None = None  # whether CLIENT REPLY SKIP is allowed (probed once)
        # a nudge (see _await_reply) borrows a second connection: never from a blocking
        # pool, where it could wait for the very connection that is blocked
        self._may_nudge = not isinstance(getattr(client, "connection_pool", None), redis.BlockingConnectionPool)
        if self._idle is not None:
            # a HotClient dropped without close() (one per request around a shared
            # redis-py client) must not keep its idle connections out of that pool
            weakref.finalize(self, _give_back, self._idle, self.redis.connection_pool)
        _CLIENTS.add(self)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> HotClient:
        """Create a client from a ``redis://``, ``rediss://`` or ``unix://`` URL.

        hotsync's own keyword arguments (``key_prefix``, ``codec``, ``retry``,
        ``metrics``, ``name_label``) are taken out; the rest go to redis-py.
        """
        own = {k: kwargs.pop(k) for k in ("key_prefix", "codec", "retry", "metrics", "name_label") if k in kwargs}
        if kwargs.get("decode_responses"):
            raise ValueError("hotsync decodes values with its codec; do not pass decode_responses=True")
        merged = {**CLIENT_DEFAULTS, **kwargs, "retry": Retry(NoBackoff(), 0), "decode_responses": False}
        return cls(client=redis.Redis.from_url(url, **merged), **own)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as how to connect, never the sockets (see :mod:`hotsync._pickling`)."""
        return client_from_recipe, client_recipe(self)

    def __repr__(self) -> str:
        kind = "cluster" if self._cluster else "redis"
        return f"<HotClient {kind} prefix={self.key_prefix!r}>"

    # -- keys --------------------------------------------------------------

    def key_for(self, key: str | None, kind: str) -> tuple[str, str]:
        """Resolve an object's ``key`` argument to ``(user_key, main_key)``."""
        user = new_key(kind) if key is None else key
        return user, full_key(self.key_prefix, user)

    def register(self, kind: str, main_key: str) -> None:
        """Record a named object in the index read by ``hotsync inspect`` (once per process)."""
        item = (kind, main_key)
        if item in self._registered:
            return
        index = index_key(self.key_prefix)
        self.command("HSET", index, main_key, kind, key=index)
        self._registered.add(item)

    # -- low level I/O -----------------------------------------------------

    def _may_keep_idle(self) -> bool:
        """Idle connections only on one node whose pool is a plain one of at least 100
        connections (redis-py 8's default; the 4 kept idle are at most 4% of it): held
        out of a small or blocking pool they would starve the redis-py client shared
        with the caller (a ``BlockingConnectionPool(max_connections=2)`` would block)."""
        if self._cluster:
            return False
        pool = self.redis.connection_pool
        return not isinstance(pool, redis.BlockingConnectionPool) and pool.max_connections >= 100

    def _socket_timeout(self) -> float | None:
        pool = self._pool_for(None)
        # a pool built without socket_timeout (redis.Redis.from_url(url), ConnectionPool(...))
        # leaves it out of its kwargs: its connections then use redis-py's default (5 s in
        # redis-py 8), not "no timeout"
        t = pool.connection_kwargs.get("socket_timeout", _REDIS_DEFAULT_SOCKET_TIMEOUT)
        return float(t) if t else None

    def _pool_for(self, key: str | None) -> redis.ConnectionPool:
        if not self._cluster:
            return self.redis.connection_pool
        cluster: redis.RedisCluster = self.redis  # type: ignore[assignment]
        node = cluster.get_node_from_key(key) if key is not None else cluster.get_random_node()
        if node.redis_connection is None:  # pragma: no cover - redis-py creates them eagerly
            cluster.nodes_manager.create_redis_connections([node])
        return node.redis_connection.connection_pool

    def _read_timeout(self, block: float) -> Any:
        return block + self._read_margin if block and self._timed_reads else _DEFAULT

    def execute(self, *args: Any, key: str | None = None, timeout: Any = _DEFAULT, block: float = 0.0) -> Any:
        """Run one command once (no retry); return the raw reply.

        ``key`` routes the command on a cluster; ``timeout`` bounds the wait for
        the reply (default: the connection's ``socket_timeout``); ``block``: the
        command's own server-side timeout in seconds (a blocking command), which
        the client then makes the server keep to the millisecond (see
        ``_await_reply``).  Errors raised before the command was sent are tagged as
        safe to retry.
        """
        if _reply_mode(args) is not None:
            raise _reply_mode_refused()
        try:
            return self._exchange(key, lambda conn: _pack(conn, args), 1, timeout, keep_errors=False,
                                  block=block)[0]
        except rx.AskError as exc:
            if isinstance(exc, rx.MovedError) or not self._cluster:
                raise
            reply = self._ask(exc, [args], timeout)[0]
            if isinstance(reply, Exception):
                raise reply from None
            return reply

    def _ask(self, ask: rx.AskError, commands: Sequence[Sequence[Any]], timeout: Any) -> list[Any]:
        """Follow an ``-ASK`` redirect (the slot is being migrated and the keys are not on
        its old node yet): each command, behind its own ``ASKING``, on the migration's
        target node.  Returns their replies (errors as exception instances)."""
        cluster: redis.RedisCluster = self.redis  # type: ignore[assignment]
        node = cluster.nodes_manager.get_node(ask.host, ask.port)
        if node is None:
            raise ask
        if node.redis_connection is None:  # pragma: no cover - redis-py creates them eagerly
            cluster.nodes_manager.create_redis_connections([node])
        asked = [c for command in commands for c in (("ASKING",), tuple(command))]
        replies = self._exchange(None, lambda conn: [b"".join(b"".join(_pack(conn, c)) for c in asked)],
                                 len(asked), timeout, keep_errors=True, pool=node.redis_connection.connection_pool)
        for reply in replies[0::2]:
            if isinstance(reply, Exception):
                raise reply
        return replies[1::2]

    def reply_skip_works(self) -> bool:
        """Whether the server lets this client send ``CLIENT REPLY SKIP`` (probed once
        with ``CLIENT REPLY ON``, a no-op: ACLs without ``CLIENT`` and renamed commands
        refuse it).  False while the server cannot be asked."""
        ok = self._reply_skip
        if ok is None:
            try:
                reply = self._exchange(None, lambda conn: _pack(conn, ("CLIENT", "REPLY", "ON")), 1, _DEFAULT,
                                       keep_errors=True)[0]
            except Exception:  # noqa: BLE001 - unreachable now: do without, ask again next time
                return False
            ok = self._reply_skip = not isinstance(reply, Exception)
        return ok

    def execute_many(
        self,
        commands: Sequence[Sequence[Any]],
        *,
        key: str | None = None,
        timeout: Any = _DEFAULT,
        transaction: bool = False,
        block: float = 0.0,
        rescue: Any = None,
    ) -> list[Any]:
        """Pipeline ``commands`` in one round trip (optionally as MULTI/EXEC).

        Returns one reply per command; error replies appear as exception
        instances.  With ``transaction=True`` the replies are EXEC's.  ``block``:
        the server-side timeout of a blocking command among them, as for
        :meth:`execute`; ``rescue(i, error)``: called as command ``i``'s NOSCRIPT
        error is read, its return value replaces that reply.
        """
        expect, silent = [], False
        for i, command in enumerate(commands):
            mode = _reply_mode(command)
            skips = mode == "SKIP" and len(command) == 3
            if mode is not None and not skips:
                raise _reply_mode_refused()
            if skips and (transaction or silent or i == len(commands) - 1):
                raise ValueError("CLIENT REPLY SKIP must be followed by the command whose reply it skips, "
                                 "and cannot be used in a transaction")
            expect.append(not silent and not skips)  # no reply to SKIP nor to the command after it
            silent = skips
        if transaction:
            commands = [("MULTI",), *commands, ("EXEC",)]
            expect = [True] * len(commands)
        replies = self._exchange(key, lambda conn: [b"".join(b"".join(_pack(conn, c)) for c in commands)],
                                 expect, timeout, keep_errors=True, atomic=transaction, block=block,
                                 rescue=rescue)
        moved = [r for r in replies if isinstance(r, rx.MovedError)]
        if moved:
            self._on_response_error(moved[0])
        if not transaction and self._cluster and replies and all(_asks(r, replies[0]) for r in replies):
            # the slot is being migrated and none of the keys is on this node any more:
            # the whole batch goes to the target node (partly moved: the errors stay)
            replies = self._ask(replies[0], commands, timeout)
        if not transaction:
            refused = [r for r in replies if isinstance(r, rx.ResponseError) and is_not_applied(r)]
            if refused and (len(refused) == len(replies) or any(isinstance(r, rx.ReadOnlyError) for r in refused)):
                # nothing was written: every command was refused (MOVED, LOADING,
                # TRYAGAIN...), or the server is a read-only replica, where the ones
                # not refused were reads.  The retry policy sends the batch again, whole.
                raise refused[0]
            return replies
        result = _exec_result(replies)
        if result is None:  # pragma: no cover - only under WATCH (perform_guarded, not this path)
            raise rx.WatchError("transaction aborted")
        return result

    def _exchange(
        self, key: str | None, pack: Any, expect: int | Sequence[bool], timeout: Any, *, keep_errors: bool,
        pool: Any = None, atomic: bool = False, block: float = 0.0, rescue: Any = None,
    ) -> list[Any]:
        """Send packed command(s) on one pooled connection and read their replies.

        ``expect``: how many commands, or per command whether the server answers it
        (False for ``CLIENT REPLY SKIP`` and the command after it: their reply is
        None).  A batch with skipped replies that meets an error reply is not
        trusted to be in step (a refused SKIP is answered after all): the
        connection is dropped.  ``atomic``: the commands are one MULTI/EXEC;
        ``pool``: use this node's pool.

        No retry here.  A connection error disconnects (the connection may be out
        of step); an error reply does not, except one saying that the server is not
        a usable master (READONLY, MASTERDOWN): the retry then connects again, to
        whatever the address names after a failover, instead of asking the demoted
        node until the budget is spent.  Errors before the bytes were sent are
        tagged as safe to retry.  ``timeout`` bounds the whole exchange; ``block``:
        the server-side timeout of a blocking command in the batch (seconds from
        the send), kept by :meth:`_await_reply`; ``rescue``: see :meth:`execute_many`.
        """
        idle = self._idle if pool is None else None  # ``pool``: this node's, not the key's
        conn = _take_idle(idle) if idle else None
        if conn is None:
            pool = pool or self._pool_for(key)
            try:
                conn = pool.get_connection()
            except BaseException as exc:
                _mark_unsent(exc)
                raise
        try:
            try:
                if getattr(conn, "_sock", True) is None:
                    # an idle connection that was closed reconnects the way the pool
                    # connects one: connect(), which a Sentinel connection overrides to
                    # ask for the current master (send_packed_command would reconnect
                    # to the address it had, a demoted master)
                    conn.connect()
                conn.send_packed_command(pack(conn))
            except BaseException as exc:
                _mark_unsent(exc)
                raise
            due = time.monotonic() + block if block > 0.0 and self._may_nudge else None
            end = None if timeout is _DEFAULT or timeout is None else time.monotonic() + timeout
            replies: list[Any] = []
            drop = False  # not to be reused: its server was demoted, or it may be out of step
            if isinstance(expect, int):
                expect = (True,) * expect
            skipped = not all(expect)
            for answered in expect:
                if not answered:
                    replies.append(None)
                    continue
                try:
                    if due is not None and not self._await_reply(conn, due, key, pool):
                        due = None  # no nudge possible: the server's own timeout ends the wait
                    if timeout is _DEFAULT:
                        replies.append(conn.read_response(disable_decoding=True))
                    else:
                        left = None if end is None else max(end - time.monotonic(), 0.001)
                        replies.append(conn.read_response(disable_decoding=True, timeout=left))
                except rx.ResponseError as exc:
                    if _wrong_node(exc) or skipped:
                        drop = True
                    if not keep_errors:
                        self._on_response_error(exc)
                        if drop:
                            conn.disconnect()
                        raise
                    if rescue is not None and isinstance(exc, rx.NoScriptError):
                        replies.append(rescue(len(replies), exc))
                        continue
                    replies.append(exc)
                except rx.ConnectionError as exc:
                    # redis-py's Sentinel connections turn a demoted master's READONLY
                    # refusal into ConnectionError("The previous master is now a slave")
                    # (and reconnect through the sentinels next time): nothing was written,
                    # unless an earlier command of a plain pipeline already ran
                    if (not replies or atomic) and isinstance(exc.__context__, rx.ReadOnlyError):
                        _mark_unsent(exc)
                    raise
            if drop:
                conn.disconnect()
            return replies
        except rx.ResponseError:
            raise
        except BaseException:
            conn.disconnect()
            raise
        finally:
            if idle is not None and len(idle) < _IDLE_MAX:
                idle.append(conn)
            else:
                (pool or self._pool_for(key)).release(conn)

    def _await_reply(self, conn: Any, due: float, key: str | None, pool: Any) -> bool:
        """Wait until ``conn`` has a reply to read, making the server keep a blocking
        command's timeout, which ends at ``due`` (monotonic).

        Redis checks blocked clients' timeouts when its event loop wakes: at once
        on a busy server, but on an idle one only at its next cron tick (every
        ``1/hz`` s, 100 ms by default), so ``BLPOP key 0.02`` would answer after up
        to 100 ms.  A command arriving wakes the loop: once ``due`` has passed with
        no reply, a ``PING`` goes to the same server on another connection (a
        *nudge*), and the blocked command times out then.  A nudge that arrives
        before the server's own deadline (it started timing at the command's
        arrival) wakes the loop too early, so nudges follow 1, 2, 4 ... 32 ms
        apart, seven in all; a command that reached the server more than ~60 ms
        after it was sent is left to the server's tick.  The reply is whatever the
        server decides, so nothing is lost: a value pushed just before the nudge
        is the reply, as it would have been without one.  Returns False when a
        nudge could not be sent (no second connection): then the server's own
        tick ends the wait."""
        gap = 0.001
        wait = due + gap - time.monotonic()
        for _ in range(_NUDGES):
            if _reply_within(conn, min(max(wait, 0.0), 3600.0)):  # poll() takes at most ~24 days
                return True
            try:
                self._exchange(key, lambda c: _pack(c, ("PING",)), 1, _NUDGE_TIMEOUT, keep_errors=True, pool=pool)
            except Exception:  # noqa: BLE001 - a nudge is an optimisation; the blocked read goes on
                return False
            wait = gap
            gap *= 2
        return True

    def _on_response_error(self, exc: rx.ResponseError) -> None:
        if self._cluster and isinstance(exc, rx.MovedError):  # ASK: the table is still right
            self.redis.nodes_manager.initialize()  # type: ignore[union-attr]

    # -- operations ----------------------------------------------------------

    def _count_retry(self, exc: BaseException) -> None:
        self.metrics.retries.labels(type(exc).__name__).inc()
        if self._cluster and isinstance(exc, (rx.ConnectionError, rx.TimeoutError)):
            # the node may be gone (failover): re-read the slot table before the next
            # attempt, as RedisCluster does, instead of retrying a dead address
            try:
                self.redis.nodes_manager.initialize()  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - no node answers yet: the next attempt fails and retries
                pass

    def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Any], *, idempotent: bool) -> Any:
        """Run ``script`` (EVALSHA, EVAL on NOSCRIPT) under the retry policy."""
        key = keys[0] if keys else None

        def once() -> Any:
            try:
                return self.execute("EVALSHA", script.sha, len(keys), *keys, *args, key=key)
            except rx.NoScriptError:
                self.metrics.script_loads.inc()
                return self.execute("EVAL", script.body, len(keys), *keys, *args, key=key)

        try:
            return self.retry.call(once, idempotent=idempotent, key=key, on_retry=self._count_retry)
        except rx.ResponseError as exc:
            translated = _translate(exc, key, script.name, keys)
            if translated is exc:
                raise
            raise translated from exc

    def command(self, *args: Any, key: str | None = None, idempotent: bool = True, block: float = 0.0) -> Any:
        """Run one native command under the retry policy; ``block``: server-side wait.

        ``key`` (routing on a cluster, and the key errors name) defaults to the
        command's first argument, as for calls run by :meth:`perform`."""
        if key is None:
            key = _routing_key(args)
        timeout = self._read_timeout(block)
        try:
            return self.retry.call(
                lambda: self.execute(*args, key=key, timeout=timeout, block=block),
                idempotent=idempotent,
                key=key,
                on_retry=self._count_retry,
            )
        except rx.ResponseError as exc:
            translated = _translate(exc, key, str(args[0]))
            if translated is exc:
                raise
            raise translated from exc

    def perform(self, call: Call) -> Any:
        """Run one call yielded by an operation generator."""
        if type(call) is Eval:
            return self.run_script(call.script, call.keys, call.args, idempotent=call.idempotent)
        if type(call) is Cmd:
            key = _routing_key(call.args)
            return self.command(*call.args, key=key, idempotent=call.idempotent, block=call.block)
        if type(call) is Batch:
            return self._perform_batch(call)
        raise TypeError(f"not a hotsync call: {call!r}")

    @staticmethod
    def _batch_commands(calls: Sequence[Eval | Cmd]) -> tuple[list[tuple[Any, ...]], Any]:
        """The commands of a batch, and its key (the first command's: routing, and
        what errors name by default)."""
        commands: list[tuple[Any, ...]] = []
        key = None
        for c in calls:
            if type(c) is Eval:
                if key is None and c.keys:
                    key = c.keys[0]
                # EVAL, not EVALSHA: a NOSCRIPT inside MULTI would fail alone while
                # the other commands run; the body always works.
                commands.append(("EVAL", c.script.body, len(c.keys), *c.keys, *c.args))
            else:
                if key is None:
                    key = _routing_key(c.args)
                commands.append(tuple(c.args))
        return commands, key

    def _perform_batch(self, batch: Batch) -> list[Any]:
        commands, key = self._batch_commands(batch.calls)
        timeout = self._read_timeout(batch.block)
        rescue = self._rescuer(commands) if batch.block and not batch.transaction and self._may_nudge else None
        replies = self.retry.call(
            lambda: self.execute_many(commands, key=key, timeout=timeout, transaction=batch.transaction,
                                      block=batch.block, rescue=rescue),
            idempotent=batch.idempotent,
            key=key,
            on_retry=self._count_retry,
        )
        for r in replies:
            if isinstance(r, rx.ResponseError):
                return self._translate_batch(batch, replies, key)
        return replies

    def _rescuer(self, commands: Sequence[Sequence[Any]]) -> Any:
        """For a blocking batch: what to do when an ``EVALSHA`` in it meets NOSCRIPT.

        The server lost its script cache (restart, failover, ``SCRIPT FLUSH``).  A
        script pipelined in front of a blocking command often exists to end that
        wait (a queue's prepare pushes a wake-up when a delayed item falls due
        first); left undone, the wait would last its whole timeout (measured: a
        ``get()`` for an item due in 50 ms took 30 s).  So the script runs at once
        by body (``EVAL``, which caches it again) on another connection, while
        the blocking command waits, and its reply replaces the error.  The order
        of effects is kept: the scripts before the blocking command run before
        its reply is awaited, the ones after it after.  Any error of that run
        (or a script this process does not know) leaves the NOSCRIPT reply for
        the caller to handle as before."""

        def rescue(i: int, exc: rx.NoScriptError) -> Any:
            command = commands[i]
            found = by_sha(command[1]) if command[0] == "EVALSHA" else None
            if found is None:
                return exc
            numkeys = int(command[2])
            keys = command[3:3 + numkeys]
            try:
                return self.execute("EVAL", found.body, *command[2:], key=keys[0] if keys else None)
            except rx.ResponseError as error:  # the script's own error, as the batch would have had it
                return error
            except Exception:  # noqa: BLE001 - not run (or not known to have run): the caller decides
                return exc

        return rescue

    def perform_guarded(self, batch: Batch, watch: Sequence[str], checks: Sequence[Eval]) -> list[Any]:
        """Run a transaction batch only once every check passes: all or nothing.

        On one connection: ``WATCH watch`` and the checks in one round trip; a check
        answering an error applies nothing and raises TransactionError; else
        MULTI/EXEC, which applies nothing if a watched key changed after the WATCH
        (the checks then run again).  After _GUARD_ATTEMPTS such aborts (keys
        changing under every attempt: a very busy queue) the last attempt runs
        the checks and then MULTI/EXEC without WATCH: a check still refuses what
        is already full or shut down, and only a change within that one round trip
        can fail a command inside EXEC (reported by commit(), as without guards).
        """
        commands, key = self._batch_commands(batch.calls)
        check_commands, _ = self._batch_commands(checks)
        watch = tuple(dict.fromkeys(watch))
        for attempt in range(_GUARD_ATTEMPTS):
            watched = attempt < _GUARD_ATTEMPTS - 1
            outcome = self.retry.call(
                lambda: self._guarded_exchange(key, watch if watched else (), check_commands, commands),
                idempotent=False,
                key=key,
                on_retry=self._count_retry,
            )
            if isinstance(outcome, rx.ResponseError):  # a check refused: nothing was written
                raise TransactionError(
                    f"the transaction was not applied (nothing was written): {outcome}"
                ) from _translate(outcome, key, "a transaction's check")
            if outcome is not None:
                for r in outcome:
                    if isinstance(r, rx.ResponseError):
                        return self._translate_batch(batch, outcome, key)
                return outcome
            time.sleep(_guard_backoff(attempt))
        raise AssertionError("unreachable: the last attempt watches nothing")  # pragma: no cover

    def _guarded_exchange(self, key: Any, watch: Sequence[str], checks: Sequence[Sequence[Any]],
                          commands: Sequence[Sequence[Any]]) -> list[Any] | rx.ResponseError | None:
        """One attempt of :meth:`perform_guarded`: EXEC's replies, the error a check
        answered, or None when EXEC applied nothing (a watched key changed).

        The connection is dropped unless its WATCH was ended (EXEC, UNWATCH) in step."""
        pool = self._pool_for(key)
        try:
            conn = pool.get_connection()
        except BaseException as exc:
            _mark_unsent(exc)
            raise
        ended = False  # no WATCH left on the connection, and every reply read
        try:
            first = ([("WATCH", *watch)] if watch else []) + list(checks)
            try:
                conn.send_packed_command([b"".join(b"".join(_pack(conn, c)) for c in first)])
            except BaseException as exc:
                _mark_unsent(exc)
                raise
            refused = None
            for i in range(len(first)):
                try:
                    conn.read_response(disable_decoding=True)
                except (rx.ConnectionError, rx.TimeoutError, OSError) as exc:
                    _mark_unsent(exc)  # WATCH and checks write nothing: safe to run again
                    raise
                except rx.ResponseError as exc:
                    if watch and i == 0:  # WATCH itself refused: nothing ran (MOVED, LOADING... retried)
                        self._on_response_error(exc)
                        raise
                    refused = refused or exc
            if refused is not None and is_not_applied(refused):
                raise refused  # LOADING, READONLY...: retried (the connection is dropped)
            if refused is not None:
                if watch:
                    conn.send_packed_command(_pack(conn, ("UNWATCH",)))
                    conn.read_response(disable_decoding=True)
                ended = True
                return refused
            try:
                conn.send_packed_command(
                    [b"".join(b"".join(_pack(conn, c)) for c in (("MULTI",), *commands, ("EXEC",)))])
            except BaseException as exc:
                _mark_unsent(exc)  # EXEC, last, did not reach the server whole: nothing ran
                raise
            replies: list[Any] = []
            for _ in range(len(commands) + 2):
                try:
                    replies.append(conn.read_response(disable_decoding=True))
                except rx.ResponseError as exc:
                    replies.append(exc)
            ended = True
        finally:
            if not ended:
                conn.disconnect()
            pool.release(conn)
        return _exec_result(replies)

    @staticmethod
    def _translate_batch(batch: Batch, replies: list[Any], key: Any) -> list[Any]:
        """Error replies stay in the list (one per command), translated like single
        commands: each names its own command's key (a script's: the KEYS it names)."""
        out: list[Any] = []
        calls = batch.calls
        for i, r in enumerate(replies):
            if isinstance(r, rx.ResponseError):
                if i < len(calls):
                    c = calls[i]
                    if type(c) is Eval:
                        r = _translate(r, c.keys[0] if c.keys else None, "a batched command", c.keys)
                    else:
                        r = _translate(r, _routing_key(c.args), "a batched command")
                else:
                    r = _translate(r, key, "a batched command")
            out.append(r)
        return out

    def drive(self, ops: Ops) -> Any:
        """Run an operation generator to completion; return its result."""
        try:
            call = next(ops)
            while True:
                try:
                    reply = self.perform(call)
                except BaseException as exc:  # handed to the operation: it may clean up
                    call = ops.throw(exc)
                else:
                    call = ops.send(reply)
        except StopIteration as stop:
            return stop.value

    # -- transactions ------------------------------------------------------

    def write(self, call: Call) -> Any:
        """Run a write, or queue it when a ``transaction()`` of this client is open."""
        tx = _active_transaction(self)
        if tx is not None:
            tx.add(call)
            return None
        return self.perform(call)

    def read(self, call: Call) -> Any:
        """Run a read; inside a ``transaction()`` of this client, refuse."""
        if _active_transaction(self) is not None:
            raise TransactionError(
                "cannot read inside transaction(): its writes are applied when the block exits"
            )
        return self.perform(call)

    def in_transaction(self) -> bool:
        return _active_transaction(self) is not None

    def ping(self) -> bool:
        return self.command("PING") in (b"PONG", "PONG", True)

    def close(self) -> None:
        """Close the connections of the underlying redis-py client."""
        self._return_idle()
        self.redis.close()

    def _return_idle(self) -> None:
        if self._idle:
            _give_back(self._idle, self.redis.connection_pool)


_CLIENTS: weakref.WeakSet[HotClient] = weakref.WeakSet()


















def _forget_idle_in_child() -> None:
    # a forked child must not use its parent's sockets; redis-py's pool resets
    # itself by pid, the idle lists are simply dropped
    for client in list(_CLIENTS):
        if client._idle is not None:
            client._idle.clear()  # in place: the finalizer gives back this very list


if hasattr(os, "register_at_fork"):  # not on Windows, where nothing forks
    os.register_at_fork(after_in_child=_forget_idle_in_child)
















# -- the process default client ----------------------------------------------------

_default_lock = threading.Lock()
_default_client: HotClient | None = None
_default_config: tuple[str | None, dict[str, Any]] = (None, {})


def configure(url: str | None = None, **kwargs: Any) -> None:
    """Set the process-wide default client used by objects created without ``client=``.

    Takes effect (lazily, on first use) for objects created afterwards, in every
    thread.  ``url`` defaults to ``$HOTSYNC_REDIS_URL``, then ``$REDIS_URL``, then
    ``redis://localhost:6379/0``; ``kwargs`` are :class:`HotClient` /
    redis-py options.  ``configure(client=HotClient(...))`` installs a ready client.
    """
    global _default_client, _default_config
    with _default_lock:
        ready = kwargs.pop("client", None)
        if ready is not None and not isinstance(ready, HotClient):
            raise TypeError("configure(client=...) takes a HotClient")
        _default_client = ready
        _default_config = (url, kwargs)


def default_client() -> HotClient:
    """The process default client, created on first use (never at import)."""
    global _default_client
    found = _default_client
    if found is not None:
        return found
    with _default_lock:
        if _default_client is None:
            url, kwargs = _default_config
            url = url or os.environ.get("HOTSYNC_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://localhost:6379/0"
            _default_client = HotClient.from_url(url, **kwargs)
        return _default_client


def _reset_default_lock_in_child() -> None:
    # a thread of the parent may have held the lock at fork time (in configure() or
    # while creating the default client); it does not exist in the child to release it
    global _default_lock
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_default_lock_in_child)
