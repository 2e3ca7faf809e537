"""The one way flowdev writes to its SQLite database: a `Transaction`."""

from __future__ import annotations

import contextlib
import sqlite3
from types import TracebackType


class Transaction:
    """``with Transaction(conn) as conn:`` runs its block in a write transaction.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so concurrent writers queue on the
    busy timeout instead of failing halfway through; the block's changes are committed
    when it ends, and rolled back if it (or the commit) raises. Errors pass through
    unchanged: translating them is the caller's business (`flowdev.instance.storage`).

    A class, not a ``@contextmanager`` generator: a worker stores every event through
    one, and a generator would cost more than the INSERT.
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        """A transaction on ``conn``, which must be in autocommit mode
        (``isolation_level=None``)."""
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                self._roll_back()
                raise
        else:
            self._roll_back()

    def _roll_back(self) -> None:
        if self._conn.in_transaction:
            # A failed ROLLBACK means SQLite rolled back already (it does after some I/O
            # errors) or the file cannot be used at all: the error being raised says why.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
