"""Event stores: the contract and its implementations."""

from aether.store.base import EventStore
from aether.store.memory import InMemoryEventStore

__all__ = ["EventStore", "InMemoryEventStore"]
