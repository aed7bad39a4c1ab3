"""Aether: an event store with optimistic concurrency, and a lab for retry patterns.

The top level is the core, imported eagerly and light (no pandas, no
matplotlib), so a worker process that only needs a store stays small:

Events
    :class:`Event`, :class:`FrozenData`.
Stores
    :class:`EventStore` (the protocol), :class:`InMemoryEventStore`,
    :class:`SQLiteEventStore`.
Errors
    :class:`AetherError` and its family (see :mod:`aether.errors`); the
    conflicts (:class:`ConflictError`, :class:`VersionConflictError`), the
    store's failures (:class:`StoreUnavailableError` and its kinds), the
    patterns' endings (:class:`RetriesExhaustedError`,
    :class:`DeadlineExceededError`, :class:`CommandRefusedError`,
    :class:`CircuitBreakerOpenError`, :class:`RequestThrottledError`), and
    Go's ``errors.Is``/``errors.As`` (:func:`is_version_conflict`,
    :func:`as_version_conflict`). Go's sentinel names ``ErrVersionConflict``
    and ``ErrCircuitBreakerOpen`` stay in :mod:`aether.errors`.
Clocks
    :class:`Clock`, :class:`RealClock`, :class:`SimulatedClock`,
    :class:`TaskClock`, :class:`Task`, :class:`Signal`.
Contracts
    :class:`Pattern`, :class:`Deferred`, :class:`Bindable`,
    :class:`RunContext`, :func:`pattern_name`, :func:`deadline_scope`
    (see :mod:`aether.contracts`).

Everything else lives in its namespace, each documented in its own module
docstring: :mod:`aether.patterns` (the retry patterns), :mod:`aether.experiment`
(the contention experiment), :mod:`aether.plots` (the figures),
:mod:`aether.display` (notebook tables and source) and :mod:`aether.calibrate`
(the real-machine calibration; ``from aether import calibrate`` is that module).
"""

from aether.clock import (
    Clock,
    RealClock,
    Signal,
    SimulatedClock,
    SimulationDeadlockError,
    Task,
    TaskClock,
)
from aether.contracts import (
    Bindable,
    Deferred,
    Pattern,
    RunContext,
    deadline_scope,
    pattern_name,
)
from aether.errors import (
    AetherError,
    CircuitBreakerOpenError,
    CommandRefusedError,
    ConflictError,
    DeadlineExceededError,
    DuplicateEventIdError,
    LockTimeoutError,
    RequestThrottledError,
    RetriesExhaustedError,
    StoreCorruptedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
    as_version_conflict,
    is_version_conflict,
    iter_exception_chain,
)
from aether.events import Event, FrozenData
from aether.store import EventStore, InMemoryEventStore, SQLiteEventStore

__version__ = "0.1.0"

__all__ = [
    # events
    "Event",
    "FrozenData",
    # stores
    "EventStore",
    "InMemoryEventStore",
    "SQLiteEventStore",
    # errors
    "AetherError",
    "CircuitBreakerOpenError",
    "CommandRefusedError",
    "ConflictError",
    "DeadlineExceededError",
    "DuplicateEventIdError",
    "LockTimeoutError",
    "RequestThrottledError",
    "RetriesExhaustedError",
    "StoreCorruptedError",
    "StoreOverloadedError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "VersionConflictError",
    "VersionOutOfRangeError",
    "as_version_conflict",
    "is_version_conflict",
    "iter_exception_chain",
    # clocks
    "Clock",
    "RealClock",
    "Signal",
    "SimulatedClock",
    "SimulationDeadlockError",
    "Task",
    "TaskClock",
    # contracts
    "Bindable",
    "Deferred",
    "Pattern",
    "RunContext",
    "deadline_scope",
    "pattern_name",
]
