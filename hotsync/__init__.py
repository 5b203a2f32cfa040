"""hotsync: threading, queue and collections across hosts, on Redis.

Re-exports only; see README.md for the map of the code.
"""

from __future__ import annotations

from ._retry import RetryPolicy
from .client import HotClient, configure, default_client, transaction
from .collections import Counter, DefaultDict, Dict, Float, ImmutableString, Int, List, MultiSet, Set, String
from .exceptions import (
    ConfigConflictError,
    Empty,
    Full,
    HotsyncError,
    LockError,
    LockNotOwnedError,
    OutcomeUnknownError,
    ScriptReplyError,
    SemaphoreOverReleaseError,
    ShutDown,
    TransactionError,
    WrongTypeError,
)
from .lock import Lock, RLock
from .queue import DeadLetter, LifoQueue, LifoSetQueue, Message, PriorityQueue, Queue, QueueStatistics, SetQueue
from .ratelimit import RateLimitDecision, RateLimiter
from .semaphore import BoundedSemaphore, Semaphore, SemaphoreStatistics

__version__ = "0.1.0"

__all__ = [
    "HotClient",
    "configure",
    "default_client",
    "transaction",
    "RetryPolicy",
    "Lock",
    "RLock",
    "Semaphore",
    "BoundedSemaphore",
    "SemaphoreStatistics",
    "RateLimiter",
    "RateLimitDecision",
    "List",
    "Set",
    "String",
    "ImmutableString",
    "Dict",
    "DefaultDict",
    "Counter",
    "MultiSet",
    "Int",
    "Float",
    "Queue",
    "LifoQueue",
    "PriorityQueue",
    "SetQueue",
    "LifoSetQueue",
    "QueueStatistics",
    "Message",
    "DeadLetter",
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
