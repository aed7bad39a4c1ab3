"""Event stores: the contract and its implementations.

:class:`PostgresEventStore` needs the ``postgres`` extra (psycopg 3); it is
imported on first use, so the other stores work without it.
"""

from typing import Any

from aether.store.base import EventStore
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

__all__ = ["EventStore", "InMemoryEventStore", "PostgresEventStore", "SQLiteEventStore"]


def __getattr__(name: str) -> Any:
    if name == "PostgresEventStore":
        from aether.store.postgres import PostgresEventStore

        return PostgresEventStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
