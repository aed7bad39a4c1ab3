"""What the SQL stores share: one connection per thread, and inherited connections left alone.

Both :class:`~aether.store.sqlite.SQLiteEventStore` and
:class:`~aether.store.postgres.PostgresEventStore` keep one driver connection
per thread (:class:`ThreadSlot`), close the calling thread's with ``close()``
or a ``with`` block (:class:`PerThreadConnections`), and never close a
connection a forked child inherited from its parent (:func:`keep_forever`):
for SQLite that could roll back or release file locks the child's own
connections hold; for PostgreSQL it would send the server a terminate message
on the parent's socket.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from types import TracebackType
from typing import Any, Protocol, Self

__all__ = ["INHERITED_CONNECTIONS", "PerThreadConnections", "ThreadSlot", "keep_forever"]

#: Connections forked children inherited and parked: kept alive, never used or closed.
INHERITED_CONNECTIONS: list[Any] = []


def keep_forever(conn: Any) -> None:
    """Park an inherited connection so that it is never closed, not even at interpreter exit."""
    INHERITED_CONNECTIONS.append(conn)
    with contextlib.suppress(Exception):  # not CPython: the list alone keeps it until exit
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(conn))


class Releasable(Protocol):
    """A store's wrapper of one driver connection: ``release()`` closes or parks it."""

    def release(self) -> None: ...


class ThreadSlot(threading.local):
    """Where each thread keeps its own connection to one store."""

    connection: Releasable | None = None


class PerThreadConnections:
    """``close()`` and the context manager of a store that keeps a connection per thread in ``_local``."""

    _local: ThreadSlot

    def close(self) -> None:
        """Close the calling thread's connection; the next call opens a new one.

        Other threads' connections close when those threads call ``close`` or
        end, or when the store is garbage-collected.
        """
        connection = self._local.connection
        self._local.connection = None
        if connection is not None:
            connection.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
