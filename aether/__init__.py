"""Aether: an event store with optimistic concurrency, and a lab for retry patterns."""

from aether.clock import (
    Clock,
    RealClock,
    Signal,
    SimulatedClock,
    SimulationDeadlockError,
    Task,
    TaskClock,
)
from aether.errors import (
    AetherError,
    CircuitBreakerOpenError,
    ConflictError,
    DuplicateEventIdError,
    ErrCircuitBreakerOpen,
    ErrVersionConflict,
    LockTimeoutError,
    RetriesExhaustedError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
    as_version_conflict,
    is_version_conflict,
)
from aether.events import Event, FrozenData
from aether.store import EventStore, InMemoryEventStore, SQLiteEventStore

__version__ = "0.1.0"

__all__ = [
    "AetherError",
    "CircuitBreakerOpenError",
    "Clock",
    "ConflictError",
    "DuplicateEventIdError",
    "ErrCircuitBreakerOpen",
    "ErrVersionConflict",
    "Event",
    "EventStore",
    "FrozenData",
    "InMemoryEventStore",
    "LockTimeoutError",
    "RealClock",
    "RetriesExhaustedError",
    "Signal",
    "SQLiteEventStore",
    "SimulatedClock",
    "SimulationDeadlockError",
    "StoreUnavailableError",
    "Task",
    "TaskClock",
    "VersionConflictError",
    "VersionOutOfRangeError",
    "as_version_conflict",
    "is_version_conflict",
]
