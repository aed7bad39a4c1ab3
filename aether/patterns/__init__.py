"""Retry patterns for optimistic concurrency: one short module per pattern.

Every pattern has the same call shape and performs one *logical save*::

    pattern(store, actor_id, event_type, data, *, clock=..., [rng=...,] <settings>,
            key=None, deadline=None) -> Event

``data`` is normally a **decision**, ``decide(events) -> Mapping | None``: it
gets the actor's events as read on this attempt (oldest first) and returns
the next event's data, or ``None`` to refuse, which raises
:class:`~aether.errors.CommandRefusedError` and is never retried. After every
conflict the pattern reads again and decides again, so a loser re-checks its
decision against the state that beat it::

    def reserve(events):
        left = 10 - len(events)
        return {"units": 1} if left > 0 else None

    jitter_retry(store, "sku-42", "Reserved", reserve, deadline=2.0)

A **mapping** is the special case, the blind re-append of the original Go
examples (the same data at the next version whatever happened meanwhile),
kept for comparison. ``key`` is the save's one idempotency key (the event id,
generated once if not given): a save whose write timed out but landed is
found, not stored again. ``deadline`` is the save's whole budget in seconds:
no attempt or wait starts past it, and expiry raises
:class:`~aether.errors.DeadlineExceededError`. The steps every pattern shares
are written once in :mod:`aether.patterns.command`.

One vocabulary: ``max_attempts`` counts every try, the first included;
giving up raises :class:`~aether.errors.RetriesExhaustedError` from the last
error; arguments are checked before the first store call (a ``TypeError`` or
``ValueError`` naming the parameter and the value).

Conflict retries (retry :class:`~aether.errors.VersionConflictError` only)
    :func:`no_retry`, :func:`immediate_retry` (the baselines),
    :func:`simple_retry` (capped exponential backoff),
    :func:`conflict_detailed_retry` (with :class:`ConflictRecord`,
    :class:`ThrashingPolicy`, :class:`ThrashingVerdict`,
    :class:`ConflictHistoryError`, :class:`ThrashingError`),
    :func:`jitter_retry` and :func:`adaptive_retry` (with
    :class:`AdaptivePolicy`, :func:`adaptive_delay`); their waits:
    :class:`Backoff`, :data:`GO_BACKOFF`, :data:`AWS_BACKOFF`, :data:`JITTERS`,
    :func:`no_jitter`, :func:`full_jitter`, :func:`equal_jitter`,
    :func:`decorrelated_jitter`.

Resilience patterns (also retry :class:`~aether.errors.StoreUnavailableError`)
    :func:`retry_on_failure` (what most client code does);
    :func:`circuit_breaker_retry` with :class:`CircuitBreaker`,
    :class:`CircuitBreakerPolicy`, :class:`BreakerState`, :class:`Transition`,
    :func:`store_unavailable`, :func:`store_unavailable_or_conflict`;
    :func:`budgeted_retry` with :class:`RetryBudget`, :class:`RetryBudgetPolicy`;
    :func:`adaptive_throttling` with :class:`ClientThrottle`,
    :class:`AdaptiveThrottlingPolicy`. The shared objects answer "may I send /
    retry now?" with one verb, ``allow``; their policies share one base,
    :class:`SharedStatePolicy`, which an experiment binds once per run.

Deferred writes (accept now, commit later)
    :class:`RetryQueue`, :class:`QueuedWrites`, :class:`Ticket`,
    :class:`WorkerFailure`; the durable :class:`DurableOutbox`,
    :class:`OutboxEntry`, :class:`OutboxTicket`; :func:`lost_writes` and
    :func:`unsaved_writes`.

Building your own
    :class:`LogicalSave` (build the event, send and classify, wait, under one
    key and deadline), :data:`Decide`, :data:`Command`, :func:`is_decision`,
    :func:`outcome_unknown`. Any callable of the shape above is a
    :class:`~aether.contracts.Pattern` and plugs into the experiment.
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
from aether.patterns.command import Command, Decide, LogicalSave, is_decision, outcome_unknown
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
from aether.patterns.shared import SharedStatePolicy
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
    "Command",
    "ConflictHistoryError",
    "ConflictRecord",
    "Decide",
    "DurableOutbox",
    "LogicalSave",
    "LostWrites",
    "OutboxEntry",
    "OutboxTicket",
    "QueuedWrites",
    "RetryBudget",
    "RetryBudgetPolicy",
    "RetryQueue",
    "SharedStatePolicy",
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
    "is_decision",
    "jitter_retry",
    "lost_writes",
    "no_jitter",
    "no_retry",
    "outcome_unknown",
    "retry_on_failure",
    "simple_retry",
    "store_unavailable",
    "store_unavailable_or_conflict",
    "unsaved_writes",
]
