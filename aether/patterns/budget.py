"""Retry budget: a token bucket that caps how many retries a client may add to the load.

Every writer of a client shares one bucket. A retry must pay for itself in
tokens (more after an outage than after a conflict), and every successful
save puts a little back; with the bucket empty a writer gives up at once
instead of retrying. It is the retry mode of the AWS SDKs ("standard": a
retry costs 5 tokens, a timeout 10, a success refunds 1, the bucket holds
500) and gRPC's retry throttling (retries only while the bucket is more than
half full). Use it wherever retries could multiply the load on a store that
is already failing; the price is that during a long outage late saves fail
fast instead of waiting it out.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from aether.checks import check_methods, check_number, show
from aether.clock import Clock
from aether.errors import RetriesExhaustedError, StoreUnavailableError, VersionConflictError
from aether.events import Event
from aether.patterns._common import (
    REAL_CLOCK,
    capped_exponential,
    check_backoff,
    check_count,
)
from aether.patterns.backoff import GO_BACKOFF
from aether.patterns.command import Command, LogicalSave
from aether.patterns.shared import SharedStatePolicy
from aether.store.base import EventStore

__all__ = ["RetryBudget", "RetryBudgetPolicy", "budgeted_retry"]


#: What :func:`budgeted_retry` calls on its budget.
BUDGET_METHODS = ("allow", "record_success")


def _check_tokens(name: str, value: object) -> float:
    """Return *value* as float if it is a finite number of tokens ``>= 0``; raise otherwise."""
    return check_number(name, value, minimum=0.0, unit="tokens")


class RetryBudget:
    """A thread-safe token bucket shared by all writers of one client.

    * the bucket starts full with ``max_tokens``;
    * :meth:`allow` pays ``retry_cost`` for a retry after a conflict,
      ``unavailable_cost`` after a :class:`~aether.errors.StoreUnavailableError`,
      and refuses (paying nothing) unless the bucket holds more than
      ``threshold`` tokens and at least the cost;
    * :meth:`record_success` adds ``success_refund``, never above ``max_tokens``.

    The defaults are the AWS SDK "standard" retry mode; :meth:`grpc` builds
    gRPC's retry throttling. A budget with both costs ``0`` never refuses: the
    unbudgeted baseline to compare with.
    """

    def __init__(self, *, max_tokens: float = 500, retry_cost: float = 5,
                 unavailable_cost: float = 10, success_refund: float = 1,
                 threshold: float = 0) -> None:
        self.max_tokens = _check_tokens("max_tokens", max_tokens)
        self.retry_cost = _check_tokens("retry_cost", retry_cost)
        self.unavailable_cost = _check_tokens("unavailable_cost", unavailable_cost)
        self.success_refund = _check_tokens("success_refund", success_refund)
        self.threshold = _check_tokens("threshold", threshold)
        if self.threshold >= self.max_tokens:
            raise ValueError(f"threshold must be below max_tokens ({show(max_tokens)}); "
                             f"got {show(threshold)}")
        self._tokens = self.max_tokens
        self._lock = threading.Lock()
        self.spent = 0.0
        self.retries_allowed = self.retries_refused = self.successes = 0

    @classmethod
    def grpc(cls, max_tokens: float = 10, token_ratio: float = 0.1) -> RetryBudget:
        """gRPC's retry throttling: a retry costs 1, a success adds *token_ratio*.

        Retries are allowed only while the bucket holds more than half of *max_tokens*.
        """
        return cls(max_tokens=max_tokens, retry_cost=1, unavailable_cost=1,
                   success_refund=token_ratio, threshold=max_tokens / 2)

    @property
    def tokens(self) -> float:
        """The tokens in the bucket now."""
        return self._tokens

    def cost_of(self, error: BaseException) -> float:
        """The cost of a retry after *error*.

        ``unavailable_cost`` after an outage (:class:`~aether.errors.StoreUnavailableError`),
        ``retry_cost`` after anything else.
        """
        if isinstance(error, StoreUnavailableError):
            return self.unavailable_cost
        return self.retry_cost

    def allow(self, error: BaseException) -> bool:
        """Pay for one retry after *error* and return True, or return False (paying nothing).

        The same verb as :meth:`CircuitBreaker.allow
        <aether.patterns.breaker.CircuitBreaker.allow>` and :meth:`ClientThrottle.allow
        <aether.patterns.throttle.ClientThrottle.allow>`: may this writer retry now?
        """
        cost = self.cost_of(error)
        with self._lock:
            if self._tokens <= self.threshold or self._tokens < cost:
                self.retries_refused += 1
                return False
            self._tokens -= cost
            self.spent += cost
            self.retries_allowed += 1
            return True

    def record_success(self) -> None:
        """Put ``success_refund`` tokens back after a successful save (up to ``max_tokens``)."""
        with self._lock:
            self._tokens = min(self.max_tokens, self._tokens + self.success_refund)
            self.successes += 1

    def __repr__(self) -> str:
        return (f"<RetryBudget {self._tokens:g}/{self.max_tokens:g} tokens: "
                f"{self.retries_allowed} retries allowed, {self.retries_refused} refused>")


def budgeted_retry(store: EventStore, actor_id: str, event_type: str,
                   data: Command = None, *, budget: RetryBudget,
                   clock: Clock = REAL_CLOCK, max_attempts: int = 11,
                   base_delay: float = GO_BACKOFF.base_delay,
                   max_delay: float = GO_BACKOFF.max_delay, key: str | None = None,
                   deadline: float | None = None) -> Event:
    """Save the next event, retrying conflicts and outages with backoff while *budget* pays for it.

    A conflict or :class:`~aether.errors.StoreUnavailableError` is retried
    after ``min(max_delay, base_delay * 2**n)`` seconds (defaults:
    :data:`~aether.patterns.backoff.GO_BACKOFF`) if ``budget.allow(error)``
    says so, at most *max_attempts* (11) times in all, under one idempotency
    key (a save that did land is never stored twice); after a conflict the
    actor is read again. With the budget spent it raises
    :class:`~aether.errors.RetriesExhaustedError` (reason ``"retry budget
    exhausted"``) ``from`` the last error; any other error propagates
    unchanged. Use it through :class:`RetryBudgetPolicy` so that all writers of
    a run share one budget. *data*, *key* and *deadline* as in
    :func:`~aether.patterns.simple.simple_retry`.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_methods("budget", budget, BUDGET_METHODS, "a RetryBudget")
    check_count("max_attempts", max_attempts)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    last: VersionConflictError | StoreUnavailableError | None = None
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        try:
            event = save.send(save.next_event())
        except (VersionConflictError, StoreUnavailableError) as error:
            last = error  # a conflict reads again; an unknown outcome keeps the key
        else:
            budget.record_success()
            return event
        if attempt < max_attempts:
            if not budget.allow(last):
                raise RetriesExhaustedError(actor_id, attempt, "retry budget exhausted") from last
            save.wait(capped_exponential(base_delay, max_delay, attempt - 1), last)
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last


@dataclass(frozen=True)
class RetryBudgetPolicy(SharedStatePolicy):
    """:func:`budgeted_retry` with one :class:`RetryBudget` shared by all writers of a run.

    Pass it to :func:`~aether.experiment.run_contention` like a pattern:
    ``bind`` builds a full bucket for each run, and :attr:`budgets` keeps each
    run's budget so its counters can be read afterwards. With
    ``retry_cost=0, unavailable_cost=0`` nothing is ever refused: the same
    retry loop without a budget, for comparison.
    """

    pattern = staticmethod(budgeted_retry)
    state_keyword = "budget"
    states_field = "budgets"
    state_type = RetryBudget

    max_tokens: float = 500
    retry_cost: float = 5
    unavailable_cost: float = 10
    success_refund: float = 1
    threshold: float = 0
    max_attempts: int = 11
    base_delay: float = GO_BACKOFF.base_delay
    max_delay: float = GO_BACKOFF.max_delay
    name: str = "budgeted_retry"
    budgets: list[RetryBudget] = field(default_factory=list, compare=False, repr=False)
    deadline: float | None = None


    def new_budget(self) -> RetryBudget:
        """A full bucket with these settings."""
        return RetryBudget(max_tokens=self.max_tokens, retry_cost=self.retry_cost,
                           unavailable_cost=self.unavailable_cost,
                           success_refund=self.success_refund, threshold=self.threshold)

    def new_state(self, clock: Clock, rng: random.Random | None) -> RetryBudget:
        """A full bucket (a budget counts tokens, not time: *clock* and *rng* are not used)."""
        return self.new_budget()
