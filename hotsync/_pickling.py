"""Pickling: a hotsync object travels as a handle (its key, settings and server), never as state.

A worker started by ``multiprocessing`` with the "spawn" or "forkserver" method,
or a task run by a ``ProcessPoolExecutor``, receives its arguments pickled.  A
hotsync object (``Lock``, ``Queue``, ``List``...) pickles as how to build it
again: its class, key and constructor settings, and how its client connects.
The receiving process gets a new object on the same key of the same server,
which is all a distributed object is.  Nothing held travels: a lock or permit
held by the sender is not held by the copy (as after ``fork()``), and messages
reserved by the sender stay the sender's to ack.

A :class:`~hotsync.HotClient` pickles as its redis-py connection class and
connection arguments (address, database, credentials, timeouts, TLS
settings), key prefix, codec, retry policy and metrics name label; never its
sockets.  The pickle therefore carries the connection's credentials, as the
client's own arguments do: hand it only to processes you would give them to.
Its metrics do not travel (a registry belongs to one process): the copy reports
to the receiving process's default registry, or nowhere when the sender's
metrics were off.  In the receiving process, copies of one client
arriving separately (task after task) share one client, so they share one
connection pool.  Only clients on one server through a plain
``ConnectionPool`` / ``BlockingConnectionPool`` can be pickled; a Sentinel-
or Cluster-backed client raises ``TypeError``: build the object in the worker
with a client made there.
"""

from __future__ import annotations

import os
import pickle
import threading
import weakref
from typing import Any

import redis

__all__ = ["rebuild", "client_recipe", "client_from_recipe"]

#: Connection arguments redis-py 8 adds to a pool's connection kwargs for its own
#: bookkeeping (made again by the pool that receives the rest).
_POOL_INTERNAL = frozenset({
    "himport_registry",
    "maint_notifications_pool_handler",
    "maint_notifications_config",
    "orig_host_address",
    "orig_socket_timeout",
    "orig_socket_connect_timeout",
})

_POOLS = (redis.ConnectionPool, redis.BlockingConnectionPool)

# clients rebuilt in this process, by recipe, so that copies arriving one by one share a pool
_rebuilt: weakref.WeakValueDictionary[tuple[int, bytes], Any] = weakref.WeakValueDictionary()
_rebuilt_lock = threading.Lock()


def rebuild(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Make a hotsync object again from its pickled handle: ``cls(*args, **kwargs)``."""
    return cls(*args, **kwargs)


def client_recipe(client: Any) -> tuple[Any, ...]:
    """What a :class:`~hotsync.HotClient` pickles as (see the module docstring).

    Raises:
        TypeError: the client cannot be rebuilt elsewhere (Sentinel, Cluster, a
            pool of another kind).
    """
    r = client.redis
    pool = getattr(r, "connection_pool", None)
    if client._cluster or type(pool) not in _POOLS:
        kind = type(r).__name__ if client._cluster else type(pool).__name__
        raise TypeError(
            f"cannot pickle a HotClient on a {kind}: only a client of one server through a plain "
            "ConnectionPool travels to another process; build the object there with a client made there"
        )
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k not in _POOL_INTERNAL}
    pool_args: dict[str, Any] = {"max_connections": pool.max_connections}
    if type(pool) is redis.BlockingConnectionPool:
        pool_args["timeout"] = pool.timeout
    return (
        type(pool),
        pool.connection_class,
        pool_args,
        kwargs,
        client.key_prefix,
        client.codec,
        client.retry,
        client.metrics.enabled,
        client._name_label,
    )


def client_from_recipe(*recipe: Any) -> Any:
    """A :class:`~hotsync.HotClient` made from :func:`client_recipe`'s result;
    the same one for the same recipe within this process."""
    from .client import HotClient

    key = (os.getpid(), pickle.dumps(recipe))
    with _rebuilt_lock:
        found = _rebuilt.get(key)
        if found is not None:
            return found
        pool_cls, conn_cls, pool_args, kwargs, prefix, codec, retry, metrics, name_label = recipe
        pool = pool_cls(connection_class=conn_cls, **pool_args, **kwargs)
        made = HotClient(client=redis.Redis(connection_pool=pool), key_prefix=prefix, codec=codec, retry=retry,
                         metrics=metrics, name_label=name_label)
        _rebuilt[key] = made
        return made
