"""Aether: an event store with optimistic concurrency, and a lab for retry patterns.

The core (events, errors, stores, clocks) is imported eagerly. The retry
patterns (:mod:`aether.patterns`), the contention experiment
(:mod:`aether.experiment`), the figures (:mod:`aether.plots`) and the notebook
display helpers (:mod:`aether.display`) are re-exported here too, but loaded on
first use, so ``import aether`` stays light (no pandas or matplotlib) in worker
processes that only need a store.
"""

import importlib
from typing import TYPE_CHECKING, Any

from aether.clock import (
    Clock,
    RealClock,
    Signal,
    SimulatedClock,
    SimulationDeadlockError,
    Task,
    TaskClock,
)
from aether.contracts import Bindable, Deferred, Pattern, RunContext, pattern_name
from aether.errors import (
    AetherError,
    CircuitBreakerOpenError,
    CommandRefusedError,
    ConflictError,
    DeadlineExceededError,
    DuplicateEventIdError,
    ErrCircuitBreakerOpen,
    ErrVersionConflict,
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

if TYPE_CHECKING:
    from aether.display import format_table as format_table
    from aether.display import show_source as show_source
    from aether.display import show_table as show_table
    from aether.experiment import *  # noqa: F403
    from aether.patterns import *  # noqa: F403
    from aether.plots import apply_style as apply_style
    from aether.plots import plot_goodput as plot_goodput
    from aether.plots import plot_latency as plot_latency
    from aether.plots import plot_latency_vs_load as plot_latency_vs_load
    from aether.plots import plot_load as plot_load
    from aether.plots import plot_outcomes as plot_outcomes
    from aether.plots import plot_retries as plot_retries
    from aether.plots import plot_scorecard as plot_scorecard
    from aether.plots import plot_sweep as plot_sweep
    from aether.plots import plot_timeline as plot_timeline
    from aether.plots import save_figure as save_figure
    from aether.plots import style as style

__version__ = "0.1.0"

_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "aether.experiment": (
        "AbsNormal", "BlockingSleepWarning", "BlockingSleeps", "CallRecord", "Capacity", "Constant", "Delay",
        "ExperimentInvariantError", "Exponential", "LIBRARY_GIVE_UPS", "LatencySpike", "NetworkModel",
        "NetworkStore", "Outage", "Ramp", "RecordingStore", "RunResult", "RunSummary", "SaveRow", "Scenario",
        "Slowdown", "StationRecord", "Step", "Uniform", "compare", "complexity", "guard_blocking_sleeps",
        "is_library_give_up", "measure_run", "run_contention", "run_load", "sweep", "sweep_load", "verify_store",
    ),
    "aether.patterns": (
        "AWS_BACKOFF", "AdaptivePolicy", "AdaptiveThrottlingPolicy", "Backoff", "BreakerState", "CircuitBreaker",
        "CircuitBreakerPolicy", "ClientThrottle", "ConflictHistoryError", "ConflictRecord", "DurableOutbox",
        "GO_BACKOFF", "JITTERS", "LostWrites", "OutboxEntry", "OutboxTicket", "QueuedWrites", "RetryBudget",
        "RetryBudgetPolicy", "RetryQueue", "ThrashingError", "ThrashingPolicy", "ThrashingVerdict", "Ticket",
        "Transition", "WorkerFailure", "adaptive_delay", "adaptive_retry", "adaptive_throttling", "budgeted_retry",
        "circuit_breaker_retry", "conflict_detailed_retry", "decorrelated_jitter", "equal_jitter", "full_jitter",
        "immediate_retry", "jitter_retry", "lost_writes", "no_jitter", "no_retry", "retry_on_failure", "simple_retry",
        "store_unavailable", "store_unavailable_or_conflict", "unsaved_writes",
    ),
    "aether.display": ("format_table", "show_source", "show_table"),
    "aether.calibrate": ("Calibration", "Quantiles", "calibrate", "reference_calibration"),
    # the chapters' own figures
    "aether.plots_rev0001": ("plot_baseline", "plot_latency_every_save", "plot_retry_limits"),
    "aether.plots_rev0203": ("plot_commit_latency", "plot_waits"),
    "aether.plots_rev0405": ("plot_commits", "plot_distance_shares", "plot_policy_waits", "plot_queue_depth",
                             "plot_save_latency", "plot_tier_waits"),
    "aether.plots_rev0607": ("plot_breaker_states", "plot_every_save"),
    "aether.plots_reality": ("plot_latency_by_way", "plot_lock_handoff", "plot_ways"),
    "aether.plots_production": ("plot_wait_bands",),
    "aether.plots": ("apply_style", "plot_goodput", "plot_latency", "plot_latency_vs_load", "plot_load",
                     "plot_outcomes", "plot_retries", "plot_scorecard", "plot_sweep", "plot_timeline",
                     "save_figure", "style"),
}


_LAZY: dict[str, str] = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Load a re-exported name from its submodule on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aether' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

__all__ = [
    "AetherError",
    "Bindable",
    "CircuitBreakerOpenError",
    "Clock",
    "CommandRefusedError",
    "ConflictError",
    "DeadlineExceededError",
    "Deferred",
    "DuplicateEventIdError",
    "ErrCircuitBreakerOpen",
    "ErrVersionConflict",
    "Event",
    "EventStore",
    "FrozenData",
    "InMemoryEventStore",
    "LockTimeoutError",
    "Pattern",
    "RealClock",
    "RequestThrottledError",
    "RetriesExhaustedError",
    "RunContext",
    "Signal",
    "SQLiteEventStore",
    "SimulatedClock",
    "SimulationDeadlockError",
    "StoreCorruptedError",
    "StoreOverloadedError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "Task",
    "TaskClock",
    "VersionConflictError",
    "VersionOutOfRangeError",
    "as_version_conflict",
    "is_version_conflict",
    "iter_exception_chain",
    "pattern_name",
    *_LAZY,
]
