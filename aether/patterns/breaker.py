"""Circuit breaker: stop calling a store that is down, and probe it now and then.

A breaker sits in front of the store and counts consecutive failures. After
``failure_threshold`` of them it *opens*: every call fails at once with
:class:`~aether.errors.CircuitBreakerOpenError` instead of waiting on a dead
store. After ``reset_timeout`` seconds it turns *half-open* and lets a few
trial calls through; a success *closes* it again, a failure re-opens it. Use
it when many writers share one store that can go down: during an outage it
turns thousands of doomed retries into a handful of probes. The risk is
counting the wrong thing as a failure: a version conflict proves the store is
up and busy, so by default conflicts do not count (see :func:`store_unavailable`).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from aether.checks import check_callable, check_methods, check_text
from aether.clock import Clock
from aether.errors import (
    CircuitBreakerOpenError,
    ConflictError,
    DeadlineExceededError,
    RetriesExhaustedError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.events import Event
from aether.patterns._common import (
    REAL_CLOCK,
    capped_exponential,
    check_backoff,
    check_count,
    check_delay,
    check_hook,
)
from aether.patterns.backoff import GO_BACKOFF
from aether.patterns.command import Command, LogicalSave
from aether.patterns.shared import SharedStatePolicy
from aether.store.base import EventStore

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerPolicy",
    "Transition",
    "circuit_breaker_retry",
    "store_unavailable",
    "store_unavailable_or_conflict",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: What :func:`circuit_breaker_retry` calls on its breaker.
BREAKER_METHODS = ("allow", "record_success", "record_error", "retry_after")


class BreakerState(enum.Enum):
    """The three states of a :class:`CircuitBreaker`."""

    CLOSED = "closed"  # calls go through; failures are counted
    OPEN = "open"  # calls are refused until reset_timeout has passed
    HALF_OPEN = "half_open"  # a few trial calls decide between CLOSED and OPEN


class Transition(NamedTuple):
    """One state change of a breaker, at clock time ``time``."""

    time: float
    source: BreakerState
    target: BreakerState


def store_unavailable(error: BaseException) -> bool:
    """The default failure rule: only :class:`~aether.errors.StoreUnavailableError` counts.

    A version conflict is an answer from a healthy, busy store; opening the
    breaker on contention would turn a busy system into a refused one.
    """
    return isinstance(error, StoreUnavailableError)


def store_unavailable_or_conflict(error: BaseException) -> bool:
    """A stricter rule that also counts conflicts: use it only to show why it is a bad idea."""
    return isinstance(error, (StoreUnavailableError, ConflictError))


class CircuitBreaker:
    """A thread-safe closed / open / half-open breaker on a clock.

    Use one breaker per store per client, shared by every writer. Ask
    :meth:`allow` (Go's ``CanRetry``) before a call and report its end
    with :meth:`record_success`, :meth:`record_failure` or
    :meth:`record_error`; or let :meth:`call` do all three.

    * ``failure_threshold`` consecutive failures open the breaker;
    * after ``reset_timeout`` seconds it is half-open and admits at most
      ``half_open_max_calls`` trial calls; the first outcome reported while
      half-open decides: a success closes it, a failure re-opens it;
    * ``counts_as_failure(error)`` decides which errors are failures
      (default :func:`store_unavailable`); any other error means the store
      answered, so :meth:`record_error` counts it as a success.

    Every state change is appended to :attr:`transitions`, logged, and passed
    to ``on_transition`` (called with the breaker's lock held: it must not call
    back into the breaker or sleep). The lock only guards state updates; it is
    never held while a call runs, so it is safe under a simulated clock.
    """

    def __init__(self, *, clock: Clock = REAL_CLOCK, failure_threshold: int = 5,
                 reset_timeout: float = 0.5, half_open_max_calls: int = 1,
                 counts_as_failure: Callable[[BaseException], bool] = store_unavailable,
                 name: str = "breaker",
                 on_transition: Callable[[Transition], None] | None = None) -> None:
        check_methods("clock", clock, ("now",), "a Clock")
        self.failure_threshold = check_count("failure_threshold", failure_threshold)
        self.reset_timeout = check_delay("reset_timeout", reset_timeout)
        self.half_open_max_calls = check_count("half_open_max_calls", half_open_max_calls)
        self.counts_as_failure = check_callable("counts_as_failure", counts_as_failure,
                                                "a callable error -> bool")
        check_hook("on_transition", on_transition)
        self.name = check_text("name", name)
        self.clock = clock
        self.on_transition = on_transition
        self.transitions: list[Transition] = []
        self.admitted = self.rejected = self.successes = self.failures = 0
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trials = 0  # trial calls admitted in the current half-open period

    # -- reading the state (lock held by the caller for the _ methods) -----------

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose timeout has passed reads as half-open)."""
        with self._lock:
            self._refresh()
            return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures reported in a row while closed (reset by a success)."""
        return self._consecutive_failures

    def retry_after(self) -> float:
        """Seconds until an open breaker lets a trial call through (``0.0`` unless open)."""
        with self._lock:
            self._refresh()
            return self._retry_after()

    def _retry_after(self) -> float:
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - self.clock.now())

    def _refresh(self) -> None:
        """Turn OPEN into HALF_OPEN once the reset timeout has passed."""
        reopen_at = self._opened_at + self.reset_timeout
        if self._state is BreakerState.OPEN and self.clock.now() >= reopen_at:
            self._move(BreakerState.HALF_OPEN, at=reopen_at)
            self._trials = 0

    def _move(self, target: BreakerState, at: float | None = None) -> None:
        change = Transition(self.clock.now() if at is None else at, self._state, target)
        self._state = target
        self.transitions.append(change)
        logger.info("circuit breaker %r: %s -> %s at %.6f", self.name, change.source.value,
                    target.value, change.time)
        if self.on_transition is not None:
            self.on_transition(change)

    # -- admitting calls and recording their outcome -----------------------------

    def allow(self) -> bool:
        """Admit one call (True) or refuse it (False). Pair every True with a ``record_*`` call.

        Go's ``CanRetry``; the same verb as :meth:`RetryBudget.allow
        <aether.patterns.budget.RetryBudget.allow>` and :meth:`ClientThrottle.allow
        <aether.patterns.throttle.ClientThrottle.allow>`.
        """
        with self._lock:
            self._refresh()
            if self._state is BreakerState.HALF_OPEN:
                if self._trials >= self.half_open_max_calls:
                    self.rejected += 1
                    return False
                self._trials += 1
            elif self._state is BreakerState.OPEN:
                self.rejected += 1
                return False
            self.admitted += 1
            return True

    #: Go's name for :meth:`allow`, for code ported from the Go examples.
    can_retry = allow

    def record_success(self) -> None:
        """Report that an admitted call worked: close a half-open breaker, reset the failures."""
        with self._lock:
            self.successes += 1
            self._refresh()
            if self._state is BreakerState.HALF_OPEN:
                self._move(BreakerState.CLOSED)
            if self._state is BreakerState.CLOSED:
                self._consecutive_failures = 0

    def record_failure(self) -> None:
        """Report that an admitted call failed.

        A closed breaker opens after ``failure_threshold`` failures in a row; a half-open
        one reopens.
        """
        with self._lock:
            self.failures += 1
            self._refresh()
            if self._state is BreakerState.CLOSED:
                self._consecutive_failures += 1
                if self._consecutive_failures < self.failure_threshold:
                    return
            elif self._state is BreakerState.OPEN:
                return  # a late report from before the breaker opened changes nothing
            self._consecutive_failures = 0
            self._opened_at = self.clock.now()
            self._move(BreakerState.OPEN)

    def record_error(self, error: BaseException) -> None:
        """Report that an admitted call raised *error*.

        It is a failure if ``counts_as_failure(error)``, else a success.
        """
        if self.counts_as_failure(error):
            self.record_failure()
        else:
            self.record_success()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` through the breaker, or raise :class:`CircuitBreakerOpenError` if open."""
        if not self.allow():
            raise CircuitBreakerOpenError(self.name, self.retry_after())
        try:
            result = fn()
        except Exception as error:
            self.record_error(error)
            raise
        self.record_success()
        return result

    def __repr__(self) -> str:
        return (f"<CircuitBreaker {self.name!r} {self._state.value}: admitted {self.admitted}, "
                f"rejected {self.rejected}, successes {self.successes}, failures {self.failures}>")


def circuit_breaker_retry(store: EventStore, actor_id: str, event_type: str,
                          data: Command = None, *, breaker: CircuitBreaker,
                          clock: Clock = REAL_CLOCK, max_attempts: int = 11,
                          base_delay: float = GO_BACKOFF.base_delay,
                          max_delay: float = GO_BACKOFF.max_delay, key: str | None = None,
                          deadline: float | None = None) -> Event:
    """Save the next event, retrying conflicts and outages with backoff, unless the breaker is open.

    Every attempt first asks *breaker*; while it is open the save fails fast
    with :class:`~aether.errors.CircuitBreakerOpenError` (``from`` the last
    error). A conflict or :class:`~aether.errors.StoreUnavailableError` is
    retried after ``min(max_delay, base_delay * 2**n)`` seconds (defaults:
    :data:`~aether.patterns.backoff.GO_BACKOFF`), at most *max_attempts* (11)
    times in all, under one idempotency key (a save that did land is never
    stored twice); after a conflict the actor is read again. Any other error
    propagates unchanged. Use it through :class:`CircuitBreakerPolicy` so that
    all writers of a run share one breaker. *data*, *key* and *deadline* as in
    :func:`~aether.patterns.simple.simple_retry`.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_methods("breaker", breaker, BREAKER_METHODS, "a CircuitBreaker")
    check_text("breaker.name", getattr(breaker, "name", None))
    check_count("max_attempts", max_attempts)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    last: VersionConflictError | StoreUnavailableError | None = None
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        if not breaker.allow():
            raise CircuitBreakerOpenError(breaker.name, breaker.retry_after()) from last
        try:
            event = save.send(save.next_event())
        except (VersionConflictError, StoreUnavailableError) as error:
            breaker.record_error(error)
            last = error  # a conflict reads again; an unknown outcome keeps the key
        except DeadlineExceededError as expired:
            if expired.__cause__ is not None and expired.__cause__ is not last:
                breaker.record_error(expired.__cause__)  # this attempt's call timed out
            else:
                breaker.record_success()  # the read was answered; time ran out before the write
            raise
        except Exception as error:
            breaker.record_error(error)  # the store answered (or a bug): release the breaker
            raise
        else:
            breaker.record_success()
            return event
        if attempt < max_attempts:
            save.wait(capped_exponential(base_delay, max_delay, attempt - 1), last)
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last


@dataclass(frozen=True)
class CircuitBreakerPolicy(SharedStatePolicy):
    """:func:`circuit_breaker_retry` with one breaker shared by all writers of a run.

    Pass it to :func:`~aether.experiment.run_contention` like a pattern:
    ``bind`` builds a fresh :class:`CircuitBreaker` on the run's clock, and
    :attr:`breakers` keeps each run's breaker so its transitions and counters
    can be read afterwards. ``counts_as_failure=store_unavailable_or_conflict``
    shows what goes wrong when contention opens the breaker.
    """

    pattern = staticmethod(circuit_breaker_retry)
    state_keyword = "breaker"
    states_field = "breakers"
    state_type = CircuitBreaker

    failure_threshold: int = 5
    reset_timeout: float = 0.5
    half_open_max_calls: int = 1
    counts_as_failure: Callable[[BaseException], bool] = store_unavailable
    max_attempts: int = 11
    base_delay: float = GO_BACKOFF.base_delay
    max_delay: float = GO_BACKOFF.max_delay
    name: str = "circuit_breaker"
    breakers: list[CircuitBreaker] = field(default_factory=list, compare=False, repr=False)
    deadline: float | None = None


    def new_breaker(self, clock: Clock) -> CircuitBreaker:
        """A fresh breaker with these settings on *clock*."""
        return CircuitBreaker(clock=clock, failure_threshold=self.failure_threshold,
                              reset_timeout=self.reset_timeout,
                              half_open_max_calls=self.half_open_max_calls,
                              counts_as_failure=self.counts_as_failure, name=self.name)

    def new_state(self, clock: Clock, rng: random.Random | None) -> CircuitBreaker:
        """A fresh breaker on *clock* (*rng* is not used)."""
        return self.new_breaker(clock)
