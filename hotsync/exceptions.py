"""Every exception hotsync raises, with stdlib parents so that existing handlers work.

``except RuntimeError`` catches lock misuse as with :mod:`threading`,
``except queue.Empty`` catches :class:`Empty`, ``except ValueError`` catches an
over-released :class:`~hotsync.BoundedSemaphore`.  Exceptions carry the key name,
never the client.  Connection problems that outlast the retry policy surface as
redis-py's own ``redis.ConnectionError`` / ``redis.TimeoutError``.
"""

from __future__ import annotations

import queue as _queue

import redis

__all__ = [
    "HotsyncError",
    "LockError",
    "LockNotOwnedError",
    "SemaphoreOverReleaseError",
    "Empty",
    "Full",
    "ShutDown",
    "ScriptReplyError",
    "OutcomeUnknownError",
    "WrongTypeError",
    "TransactionError",
    "ConfigConflictError",
]


class HotsyncError(Exception):
    """Base class of every hotsync exception."""


class LockError(HotsyncError, RuntimeError):
    """A lock was used wrongly: released while not held, or by another owner."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class LockNotOwnedError(LockError):
    """The hold was lost (lease expired, lock deleted or taken over) before this call."""


class SemaphoreOverReleaseError(HotsyncError, ValueError):
    """A BoundedSemaphore was released more times than it was acquired."""


class Empty(HotsyncError, _queue.Empty):
    """Non-blocking get from an empty queue, or a blocking get that timed out."""


class Full(HotsyncError, _queue.Full):
    """Non-blocking put to a full queue, or a blocking put that timed out."""


if hasattr(_queue, "ShutDown"):  # Python >= 3.13

    class ShutDown(HotsyncError, _queue.ShutDown):  # type: ignore[name-defined,misc]
        """put() on a queue that was shut down, or get() on one shut down and empty."""

else:

    class ShutDown(HotsyncError):  # type: ignore[no-redef]
        """put() on a queue that was shut down, or get() on one shut down and empty."""


class ScriptReplyError(HotsyncError):
    """A Lua script answered something its decoder does not know: always a bug."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class OutcomeUnknownError(HotsyncError, redis.ConnectionError):
    """The connection failed after a non-idempotent command was sent.

    The server may or may not have applied it; hotsync does not retry such a
    command blindly (it could be applied twice).  ``__cause__`` holds the
    underlying redis-py error.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class WrongTypeError(HotsyncError, TypeError):
    """The Redis key holds a different data type than the hotsync object expects."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class TransactionError(HotsyncError, RuntimeError):
    """A ``transaction()`` went wrong: a read inside it (its writes are not applied
    yet), a guarded write refused (a full or shut-down queue: nothing was written),
    or a command that failed inside EXEC (the message says the others were applied)."""


class ConfigConflictError(HotsyncError, ValueError):
    """An object was created with a setting that contradicts the one stored in Redis.

    For example ``Semaphore(3, key="k")`` while ``k`` already exists with 5 permits:
    two processes must never enforce different limits on one key.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
