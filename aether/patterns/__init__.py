"""Retry patterns for version conflicts: one short module per pattern.

Every pattern is plain synchronous code with the same call shape::

    pattern(store, actor_id, event_type, data=None, *, clock=..., rng=..., <settings>) -> Event

and the same loop: read the latest version, build the next event, save, and
on a :class:`~aether.errors.VersionConflictError` decide from the error's
fields, wait, and repeat; the chapters differ only in the decision and the
wait. One vocabulary across them: ``max_attempts`` counts every try, the first
included (``RetriesExhaustedError.attempts`` counts the same way), and the
backoffs default to the named presets :data:`GO_BACKOFF` (10 ms doubling up to
1 s) and :data:`AWS_BACKOFF` (5 ms doubling up to 2 s). The retry functions
check all of their arguments before their first store call (a ``TypeError``
or ``ValueError`` naming the parameter and the value), so a bad call never
saves half-way. Giving up raises :class:`~aether.errors.RetriesExhaustedError`
from the last error. The conflict retries (simple, detailed, jitter, adaptive)
let any other error propagate unchanged. The resilience patterns differ where
their job requires it: the circuit breaker and the retry budget also retry a
:class:`~aether.errors.StoreUnavailableError` (and the breaker fails fast with
:class:`~aether.errors.CircuitBreakerOpenError` while open), and the retry
queue returns a :class:`Ticket` at once instead of the stored event.
"""

from aether.patterns.adaptive import AdaptivePolicy, adaptive_delay, adaptive_retry
from aether.patterns.backoff import AWS_BACKOFF, GO_BACKOFF
from aether.patterns.basic import immediate_retry, no_retry
from aether.patterns.breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitBreakerPolicy,
    Transition,
    circuit_breaker_retry,
    store_unavailable,
    store_unavailable_or_conflict,
)
from aether.patterns.budget import RetryBudget, RetryBudgetPolicy, budgeted_retry
from aether.patterns.detailed import (
    ConflictHistoryError,
    ConflictRecord,
    ThrashingError,
    ThrashingPolicy,
    ThrashingVerdict,
    conflict_detailed_retry,
)
from aether.patterns.failure import retry_on_failure
from aether.patterns.jitter import (
    JITTERS,
    Backoff,
    decorrelated_jitter,
    equal_jitter,
    full_jitter,
    jitter_retry,
    no_jitter,
)
from aether.patterns.outbox import DurableOutbox, OutboxEntry, OutboxTicket
from aether.patterns.queue import (
    LostWrites,
    QueuedWrites,
    RetryQueue,
    Ticket,
    lost_writes,
    unsaved_writes,
)
from aether.patterns.simple import simple_retry
from aether.patterns.throttle import AdaptiveThrottlingPolicy, ClientThrottle, adaptive_throttling
from aether.patterns.worker import WorkerFailure

__all__ = [
    "AWS_BACKOFF",
    "GO_BACKOFF",
    "JITTERS",
    "AdaptivePolicy",
    "AdaptiveThrottlingPolicy",
    "Backoff",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerPolicy",
    "ClientThrottle",
    "ConflictHistoryError",
    "ConflictRecord",
    "DurableOutbox",
    "LostWrites",
    "OutboxEntry",
    "OutboxTicket",
    "QueuedWrites",
    "RetryBudget",
    "RetryBudgetPolicy",
    "RetryQueue",
    "ThrashingError",
    "ThrashingPolicy",
    "ThrashingVerdict",
    "Ticket",
    "Transition",
    "WorkerFailure",
    "adaptive_delay",
    "adaptive_retry",
    "adaptive_throttling",
    "budgeted_retry",
    "circuit_breaker_retry",
    "conflict_detailed_retry",
    "decorrelated_jitter",
    "equal_jitter",
    "full_jitter",
    "immediate_retry",
    "jitter_retry",
    "lost_writes",
    "no_jitter",
    "no_retry",
    "retry_on_failure",
    "simple_retry",
    "store_unavailable",
    "store_unavailable_or_conflict",
    "unsaved_writes",
]
