"""``transaction()``: the writes of a block, applied together by MULTI/EXEC.

Write methods of hotsync objects ask :func:`_active_transaction` whether their
client has a block open (``HotClient.write``); the block queues their calls and
commits them when it exits.  The guarded commit (``WATCH`` and checks before
MULTI/EXEC) is ``HotClient.perform_guarded``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._ops import Batch, Call, Cmd, Eval, Guard
from .exceptions import TransactionError

if TYPE_CHECKING:  # pragma: no cover
    from .client import HotClient

__all__ = ["Transaction", "transaction"]


_transactions: contextvars.ContextVar[tuple[Transaction, ...]] = contextvars.ContextVar(
    "hotsync_transactions", default=()
)


def _active_transaction(client: HotClient) -> Transaction | None:
    for tx in reversed(_transactions.get()):
        if tx.client is client:
            return tx
    return None


class Transaction:
    """Writes queued by ``transaction()``; applied together by MULTI/EXEC."""

    def __init__(self, client: HotClient) -> None:
        self.client = client
        self.calls: list[Eval | Cmd] = []
        self.results: list[Any] | None = None

    def add(self, call: Call) -> None:
        if type(call) is Batch:
            self.calls.extend(call.calls)
        else:
            self.calls.append(call)  # type: ignore[arg-type]

    def commit(self) -> list[Any]:
        if not self.calls:
            self.results = []
            return self.results
        batch = Batch(tuple(self.calls), idempotent=False, transaction=True)
        # guards of the calls left (an inner block that raised took its calls, and
        # their guards, with it), one check per group over all the group's items
        groups: dict[Any, tuple[Guard, list[Any]]] = {}
        for call in self.calls:
            guard = getattr(call, "guard", None)
            if guard is not None:
                groups.setdefault(guard.group, (guard, []))[1].extend(guard.items)
        if groups:
            watch = [k for guard, _ in groups.values() for k in guard.watch]
            checks = [guard.check(items) for guard, items in groups.values()]
            self.results = self.client.perform_guarded(batch, watch, checks)
        else:
            self.results = self.client.perform(batch)
        failed = [r for r in self.results if isinstance(r, Exception)]
        if failed:
            raise TransactionError(
                f"{len(failed)} of {len(self.results)} commands of the transaction failed inside EXEC "
                f"(the others were applied): {failed[0]}"
            ) from failed[0]
        return self.results


@contextlib.contextmanager
def transaction(client: HotClient | None = None) -> Iterator[Transaction]:
    """Batch the writes of objects on ``client`` into one MULTI/EXEC.

    Inside the block, write methods of hotsync objects whose client is
    ``client`` (default: the process default client) are queued and return
    None; they are applied atomically when the block exits without an
    exception, and discarded when it raises.  Reads of those objects raise
    :class:`~hotsync.exceptions.TransactionError`.  Objects on other clients are
    not affected.  A nested ``transaction()`` on the same client joins the
    outer one; when the nested block raises, the writes queued inside it are
    discarded (the outer block's stay queued).  On Redis Cluster every key of
    one transaction must share a slot.

    The block belongs to the calling thread (it is a context variable): a
    thread started inside it does not join it, and its writes apply at once.

    Writes that can be refused carry a guard (a queue put: full, shut down).
    Then the block is all or nothing: the guards are checked under ``WATCH``
    right before MULTI/EXEC, on the same connection; a refused check raises
    TransactionError and writes nothing, and a watched key changed in between
    makes EXEC write nothing and the check run again (see
    :meth:`HotClient.perform_guarded`).  Other errors inside EXEC (a key of
    the wrong type) fail only their own command, as Redis does; the others
    are applied, and TransactionError says so.
    """
    if client is None:
        from .client import default_client  # client.py imports this module

        client = default_client()
    outer = _active_transaction(client)
    if outer is not None:
        mark = len(outer.calls)
        try:
            yield outer
        except BaseException:
            del outer.calls[mark:]  # the inner block failed: its writes are discarded
            raise
        return
    tx = Transaction(client)
    token = _transactions.set(_transactions.get() + (tx,))
    try:
        yield tx
    except BaseException:
        _transactions.reset(token)
        raise
    _transactions.reset(token)
    tx.commit()
