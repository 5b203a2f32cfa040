"""The one owner of retrying in hotsync.

hotsync's connections never retry inside redis-py (``HotClient`` runs commands
itself), so a command is attempted exactly as often as this module decides.

Errors fall in three groups:

* **not applied**: the server refused the command (``LOADING``, ``READONLY``
  after a failover, ``TRYAGAIN``, ``CLUSTERDOWN``, ``MASTERDOWN``, ``NOREPLICAS``,
  ``BUSY``) or the connection failed before the command was fully sent.  Safe
  to retry for every operation.
* **ambiguous**: the connection failed or timed out while waiting for the
  reply; the command may have run.  Retried only for operations marked
  idempotent (token-guarded acquire/release/renew, reads, request-id-checked
  writes).  For the others hotsync raises
  :class:`~hotsync.exceptions.OutcomeUnknownError` instead of guessing.
* **permanent**: authentication, permissions, wrong types, script bugs: never
  retried.

Retries back off exponentially with jitter and stop when the time budget is
spent; the last error is then re-raised unchanged (redis-py's own class).
The first failure costs nothing on the success path: tenacity is only entered
after an error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from redis import exceptions as rx

from tenacity import RetryCallState, Retrying, retry_if_exception

from .exceptions import OutcomeUnknownError

__all__ = ["RetryPolicy", "NO_RETRY", "is_not_applied", "is_ambiguous"]

T = TypeVar("T")

#: Server replies that mean "not executed, try again later".
_REFUSAL_PREFIXES = (
    "LOADING", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "NOREPLICAS", "BUSY ",
    # a blocked command cut short when its master was demoted: it popped nothing
    "UNBLOCKED",
)
_PERMANENT = (rx.AuthenticationError, rx.AuthorizationError, rx.NoPermissionError)


def is_not_applied(exc: BaseException) -> bool:
    """True when the command certainly did not run and may be sent again."""
    if isinstance(exc, _PERMANENT):
        return False
    if getattr(exc, "hotsync_sent", True) is False:
        return isinstance(exc, (rx.ConnectionError, rx.TimeoutError, OSError))
    if isinstance(exc, (rx.BusyLoadingError, rx.ReadOnlyError, rx.TryAgainError, rx.ClusterDownError)):
        return True
    if isinstance(exc, rx.MovedError):  # the slot lives elsewhere now; HotClient refreshed its table
        return True
    if isinstance(exc, rx.ResponseError) and not isinstance(exc, rx.NoScriptError):
        return str(exc).startswith(_REFUSAL_PREFIXES)
    return False


def is_ambiguous(exc: BaseException) -> bool:
    """True when the command was sent and its outcome is unknown."""
    if isinstance(exc, _PERMANENT) or is_not_applied(exc):
        return False
    return isinstance(exc, (rx.ConnectionError, rx.TimeoutError))


class RetryPolicy:
    """How long and how fast hotsync retries a failed command.

    Args:
        budget: seconds after the first failure during which retries may happen;
            0 disables retrying.
        initial: first back-off in seconds (doubles, with jitter).
        maximum: cap of one back-off in seconds.
        sleep: injectable sleep function (tests).
    """

    def __init__(
        self,
        budget: float = 10.0,
        initial: float = 0.05,
        maximum: float = 1.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if budget < 0 or initial < 0 or maximum < 0:
            raise ValueError("retry budget and waits must be >= 0")
        self.budget = budget
        self.initial = initial
        self.maximum = maximum
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RetryPolicy(budget={self.budget}, initial={self.initial}, maximum={self.maximum})"

    def call(
        self,
        fn: Callable[[], T],
        *,
        idempotent: bool,
        key: str | None = None,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        """Run ``fn``; on a retryable error, retry it under this policy."""
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            first = exc
        self._check(first, idempotent, key)
        if self.budget <= 0:
            raise first

        def retryable(exc: BaseException) -> bool:
            return is_not_applied(exc) or (idempotent and is_ambiguous(exc))

        def before_sleep(state) -> None:  # noqa: ANN001 - tenacity's RetryCallState
            if on_retry is not None and state.outcome is not None:
                on_retry(state.outcome.exception())

        if on_retry is not None:
            on_retry(first)
        # the budget is a deadline: no attempt starts after it, and no back-off
        # sleeps past it (an uncapped back-off would start one more attempt late)
        deadline = time.monotonic() + self.budget

        def left() -> float:
            return max(deadline - time.monotonic(), 0.0)

        def wait(state: RetryCallState) -> float:
            return min(self._wait(state), left())

        self._sleep(min(self.initial, self.budget))
        retrying = Retrying(
            retry=retry_if_exception(retryable),
            stop=lambda state: left() <= 0.0,
            wait=wait,
            sleep=self._sleep,
            reraise=True,
            before_sleep=before_sleep,
        )
        try:
            return retrying(fn)
        except Exception as exc:  # noqa: BLE001
            self._check(exc, idempotent, key)
            raise

    def _wait(self, state: RetryCallState) -> float:
        """Exponential back-off with equal jitter: half fixed, half random."""
        step = min(self.maximum, self.initial * 2 ** state.attempt_number)
        return step / 2 + random.uniform(0, step / 2)

    @staticmethod
    def _check(exc: Exception, idempotent: bool, key: str | None) -> None:
        """Raise at once when ``exc`` must not be retried."""
        if is_not_applied(exc):
            return
        if is_ambiguous(exc):
            if idempotent:
                return
            raise OutcomeUnknownError(
                f"connection lost after a non-idempotent command was sent"
                f"{f' to key {key!r}' if key else ''}; it may or may not have been applied",
                key=key,
            ) from exc
        raise exc


#: A policy that never retries.
NO_RETRY = RetryPolicy(budget=0.0)
