"""Key schema: the only place where hotsync builds Redis key names.

Every object has a *main key*: the user's ``key`` after the client's optional
``key_prefix``.  Collections store their data exactly there (``LRANGE foo 0 -1``
works from any client).  Auxiliary keys of an object are derived from the main
key so that all keys of one object hash to one Redis Cluster slot:

* if the main key carries a hash tag (``{...}`` with non-empty content), the
  suffix is appended: ``jobs{7}`` -> ``jobs{7}:signal``;
* otherwise the main key is wrapped: ``jobs`` -> ``{jobs}:signal``.

A main key containing ``}`` without a valid hash tag cannot be wrapped and is
rejected with ``ValueError``.

Per primitive (``K`` is the main key, ``{K}`` its tag form):

====================  =======  ==============================================
key                   type     contents / lifetime
====================  =======  ==============================================
Lock / RLock
``K``                 hash     owner -> depth, ``@owner`` -> last request id;
                               TTL = lease; deleted on the last release
``{K}:fence``         hash     ``n`` fencing counter, ``seq`` line counter,
                               ``last`` id of the last release, ``hungry``
                               ``<lease>#<req>#<owner>``: the acquire call the
                               next release grants to.  The one key a lock
                               keeps while idle (documented counter).
``{K}:waiters``       zset     unfair waiter -> deadline; TTL = longest wait
``{K}:signal``        list     wake-ups for unfair waiters; TTL = lease
``{K}:line``          zset     ``<req>#<owner>`` (one acquire call) -> arrival
                               number; TTL = ticket lease
``{K}:tickets``       zset     ``<req>#<owner>`` -> ticket deadline; same TTL
``{K}:w:<id>``         list     wake-up of one waiting acquire call (``<id>`` =
                               ``<req>#<owner>``): ``1``, or ``g<token>`` when a
                               release granted it the lock; TTL = lease
``{K}:released``      list     request ids of the last 256 final releases
                               made while others waited: a release retried
                               after a lost reply learns that its first
                               attempt freed the lock, even after other holds
                               came and went; TTL = retry budget + 30 s
====================  =======  ==============================================

Other primitives document their keys in their module and in their Lua headers;
the helpers here are the only way to build them.
"""

from __future__ import annotations

import uuid

__all__ = ["hash_tag", "aux", "new_key", "full_key", "index_key"]


def hash_tag(key: str) -> str | None:
    """Return the Redis Cluster hash tag of ``key``, or None when it has none.

    Same rule as the server: the content between the first ``{`` and the first
    ``}`` after it, when that content is not empty.
    """
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end < 0 or end == start + 1:
        return None
    return key[start + 1 : end]


def aux(main: str, suffix: str) -> str:
    """Name of the auxiliary key ``suffix`` of the object whose main key is ``main``."""
    if hash_tag(main) is not None:
        return f"{main}:{suffix}"
    if "}" in main:
        raise ValueError(
            f"key {main!r} contains '}}' without a valid {{hash tag}}: its auxiliary keys "
            "could not share its cluster slot; use a key without braces or with a tag"
        )
    return f"{{{main}}}:{suffix}"


def full_key(prefix: str, key: str) -> str:
    """The main key of an object: the client's prefix followed by the user's key."""
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError("key must not be empty")
    full = prefix + key
    aux(full, "check")  # reject keys whose auxiliary keys would land in another slot
    return full


def new_key(kind: str) -> str:
    """A fresh unique key for an object created without ``key=``."""
    return f"hotsync:{kind}:{uuid.uuid4().hex}"


def index_key(prefix: str) -> str:
    """The registry of known objects (kind and key), read by ``hotsync inspect``."""
    return f"{prefix}hotsync:index"
