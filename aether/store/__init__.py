"""Event stores: the contract and its implementations."""

from aether.store.base import EventStore
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

__all__ = ["EventStore", "InMemoryEventStore", "SQLiteEventStore"]
