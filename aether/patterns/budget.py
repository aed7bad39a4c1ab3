"""Retry budget: a token bucket that caps how many retries a client may add to the load.

Every writer of a client shares one bucket. A retry must pay for itself in
tokens, and successful saves put tokens back; with the bucket empty a writer
gives up at once instead of retrying. Use it wherever retries could multiply
the load on a store that is already failing; the price is that during a long
outage late saves fail fast instead of waiting it out.

:meth:`RetryBudget.aws_standard` is the retry quota of the AWS SDKs'
"standard" mode, as botocore implements it (``botocore/retries/standard.py``,
``RetryQuotaChecker``): 500 tokens; a retry costs 5, or 10 after a connect or
read timeout; a success gives back what its last retry cost, or 1 if it
needed no retry. With ``retries_2026=True`` it is the opt-in 2026 behaviour
(``AWS_NEW_RETRIES_2026=true``): a retry costs 14, or 5 after a throttling
error, whatever else happened. The class's own defaults are an older,
simpler reading (any store failure costs 10, every success refunds 1), kept
because other chapters' results use them. gRPC's retry throttling (gRFC A6)
is a different mechanism: it charges every failed call, first attempts
included, not only retries (see :meth:`RetryBudget.grpc`).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from aether.checks import check_choice, check_methods, check_number, check_rng, show
from aether.clock import Clock
from aether.errors import (
    RetriesExhaustedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.events import Event
from aether.patterns._common import (
    REAL_CLOCK,
    capped_exponential,
    check_backoff,
    check_count,
)
from aether.patterns.backoff import GO_BACKOFF, JITTERS, Backoff, Jitter
from aether.patterns.command import Command, LogicalSave
from aether.patterns.shared import SharedStatePolicy
from aether.store.base import EventStore

__all__ = ["RetryBudget", "RetryBudgetPolicy", "budgeted_retry"]


def aws_standard_settings(retries_2026: bool = False) -> dict[str, float | bool]:
    """The :class:`RetryBudget` settings of the AWS SDKs' retry quota.

    See :meth:`RetryBudget.aws_standard`.
    """
    if retries_2026:
        return {"max_tokens": 500, "retry_cost": 14, "unavailable_cost": 14, "timeout_cost": 14,
                "throttle_cost": 5, "success_refund": 1, "refund_retry_cost": True}
    return {"max_tokens": 500, "retry_cost": 5, "unavailable_cost": 5, "timeout_cost": 10,
            "throttle_cost": 5, "success_refund": 1, "refund_retry_cost": True}


#: What :func:`budgeted_retry` calls on its budget.
BUDGET_METHODS = ("allow", "record_success")


def _check_tokens(name: str, value: object) -> float:
    """Return *value* as float if it is a finite number of tokens ``>= 0``; raise otherwise."""
    return check_number(name, value, minimum=0.0, unit="tokens")


class RetryBudget:
    """A thread-safe token bucket shared by all writers of one client.

    * the bucket starts full with ``max_tokens``;
    * :meth:`allow` pays :meth:`cost_of` the error (``retry_cost`` after a
      conflict, ``unavailable_cost`` after a
      :class:`~aether.errors.StoreUnavailableError`, ``timeout_cost`` after a
      :class:`~aether.errors.StoreTimeoutError` and ``throttle_cost`` after a
      :class:`~aether.errors.StoreOverloadedError` where those are given), and
      refuses (paying nothing) unless the bucket holds more than ``threshold``
      tokens and at least the cost;
    * :meth:`record_success` adds ``success_refund``, or, with
      ``refund_retry_cost=True``, what the save's last retry paid if it
      retried (the AWS rule), never above ``max_tokens``.

    :meth:`aws_standard` builds the AWS SDKs' retry quota and :meth:`grpc`
    an approximation of gRPC's retry throttling. The defaults (any store failure 10, a
    refund of 1 per success) are an older simplification of the AWS quota that
    other chapters' results rest on. A budget with every cost ``0`` never
    refuses: the unbudgeted baseline to compare with.
    """

    def __init__(self, *, max_tokens: float = 500, retry_cost: float = 5,
                 unavailable_cost: float = 10, success_refund: float = 1,
                 threshold: float = 0, timeout_cost: float | None = None,
                 throttle_cost: float | None = None, refund_retry_cost: bool = False) -> None:
        self.max_tokens = _check_tokens("max_tokens", max_tokens)
        self.retry_cost = _check_tokens("retry_cost", retry_cost)
        self.unavailable_cost = _check_tokens("unavailable_cost", unavailable_cost)
        self.timeout_cost = (None if timeout_cost is None
                             else _check_tokens("timeout_cost", timeout_cost))
        self.throttle_cost = (None if throttle_cost is None
                              else _check_tokens("throttle_cost", throttle_cost))
        self.success_refund = _check_tokens("success_refund", success_refund)
        self.threshold = _check_tokens("threshold", threshold)
        if not isinstance(refund_retry_cost, bool):
            raise TypeError(f"refund_retry_cost must be True or False; "
                            f"got {show(refund_retry_cost)} ({type(refund_retry_cost).__name__})")
        self.refund_retry_cost = refund_retry_cost
        if self.threshold >= self.max_tokens:
            raise ValueError(f"threshold must be below max_tokens ({show(max_tokens)}); "
                             f"got {show(threshold)}")
        self._tokens = self.max_tokens
        self._lock = threading.Lock()
        self.spent = 0.0
        self.retries_allowed = self.retries_refused = self.successes = 0

    @classmethod
    def aws_standard(cls, *, retries_2026: bool = False) -> RetryBudget:
        """The AWS SDKs' "standard" retry quota, as botocore's ``RetryQuotaChecker`` keeps it.

        500 tokens. Before 2026 (botocore's standard mode "2.0"): a retry costs 5, or 10 after a
        connect or read timeout (here a :class:`~aether.errors.StoreTimeoutError`); a success
        gives back what its last retry cost, or 1 if it needed no retry. With *retries_2026*
        (mode "2.1", opt-in with ``AWS_NEW_RETRIES_2026=true``): a retry costs 14, or 5 after a
        throttling error (here a :class:`~aether.errors.StoreOverloadedError`), timeouts
        included in the 14; the refund rule is the same. A retry after a version conflict
        costs the ordinary retry (an AWS SDK would not retry a conditional-check failure at all).
        """
        if not isinstance(retries_2026, bool):
            raise TypeError(f"retries_2026 must be True or False; got {show(retries_2026)} "
                            f"({type(retries_2026).__name__})")
        return cls(**aws_standard_settings(retries_2026))

    @classmethod
    def grpc(cls, max_tokens: float = 10, token_ratio: float = 0.1) -> RetryBudget:
        """An approximation of gRPC's retry throttling.

        A retry costs 1, a success adds *token_ratio*. Retries are allowed only while
        the bucket holds more than half of *max_tokens*.
        gRPC itself (gRFC A6) takes 1 token for *every* failed call, first attempts and
        calls that are not retried included, so under failures its bucket drains faster
        than this one, which charges retries only.
        """
        return cls(max_tokens=max_tokens, retry_cost=1, unavailable_cost=1,
                   success_refund=token_ratio, threshold=max_tokens / 2)

    @property
    def tokens(self) -> float:
        """The tokens in the bucket now."""
        return self._tokens

    def cost_of(self, error: BaseException) -> float:
        """The cost of a retry after *error*.

        ``throttle_cost`` after a refusal of an overloaded store
        (:class:`~aether.errors.StoreOverloadedError`) and ``timeout_cost`` after a
        :class:`~aether.errors.StoreTimeoutError`, where given; ``unavailable_cost`` after any
        other :class:`~aether.errors.StoreUnavailableError`; ``retry_cost`` after anything else.
        """
        if self.throttle_cost is not None and isinstance(error, StoreOverloadedError):
            return self.throttle_cost
        if self.timeout_cost is not None and isinstance(error, StoreTimeoutError):
            return self.timeout_cost
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

    def record_success(self, paid: float | None = None) -> None:
        """Put tokens back after a successful save (up to ``max_tokens``).

        *paid* is what the save's last retry cost (``None``: it did not retry). With
        ``refund_retry_cost`` that amount comes back, and ``success_refund`` after a save
        without a retry; otherwise ``success_refund`` in both cases.
        """
        if paid is not None:
            paid = _check_tokens("paid", paid)
        refund = paid if self.refund_retry_cost and paid is not None else self.success_refund
        with self._lock:
            self._tokens = min(self.max_tokens, self._tokens + refund)
            self.successes += 1

    def __repr__(self) -> str:
        return (f"<RetryBudget {self._tokens:g}/{self.max_tokens:g} tokens: "
                f"{self.retries_allowed} retries allowed, {self.retries_refused} refused>")


def budgeted_retry(store: EventStore, actor_id: str, event_type: str,
                   data: Command = None, *, budget: RetryBudget,
                   clock: Clock = REAL_CLOCK, max_attempts: int = 11,
                   base_delay: float = GO_BACKOFF.base_delay,
                   max_delay: float = GO_BACKOFF.max_delay, key: str | None = None,
                   deadline: float | None = None, jitter: Jitter = "none",
                   rng: random.Random | None = None) -> Event:
    """Save the next event, retrying conflicts and outages with backoff while *budget* pays for it.

    A conflict or :class:`~aether.errors.StoreUnavailableError` is retried
    after ``min(max_delay, base_delay * 2**n)`` seconds (defaults:
    :data:`~aether.patterns.backoff.GO_BACKOFF`; with *jitter* ``"full"`` a
    wait drawn from *rng* between 0 and that, as in
    :class:`~aether.patterns.backoff.Backoff`) if ``budget.allow(error)``
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
    check_choice("jitter", jitter, JITTERS)
    if rng is not None:
        check_rng("rng", rng)
    delays = Backoff(base_delay, max_delay, jitter).delays(rng) if jitter != "none" else None
    last: VersionConflictError | StoreUnavailableError | None = None
    paid: float | None = None  # what the last retry cost, for the AWS refund rule
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        try:
            event = save.send(save.next_event())
        except (VersionConflictError, StoreUnavailableError) as error:
            last = error  # a conflict reads again; an unknown outcome keeps the key
        else:
            if paid is None:
                budget.record_success()
            else:
                budget.record_success(paid)
            return event
        if attempt < max_attempts:
            if not budget.allow(last):
                raise RetriesExhaustedError(actor_id, attempt, "retry budget exhausted") from last
            paid = budget.cost_of(last) if hasattr(budget, "cost_of") else None
            wait = (capped_exponential(base_delay, max_delay, attempt - 1) if delays is None
                    else next(delays))
            save.wait(wait, last)
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
    timeout_cost: float | None = None
    throttle_cost: float | None = None
    refund_retry_cost: bool = False
    jitter: Jitter = "none"

    def retry_settings(self) -> dict[str, object]:
        """The loop's keywords; ``jitter`` only where the waits are jittered."""
        settings = super().retry_settings()
        if self.jitter != "none":
            settings["jitter"] = self.jitter
        return settings

    @classmethod
    def aws_standard(cls, *, retries_2026: bool = False, **settings: object) -> RetryBudgetPolicy:
        """The AWS SDKs' retry quota (:meth:`RetryBudget.aws_standard`) shared by a run's writers.

        ``settings`` set the retry loop (``max_attempts``, ``base_delay``, ``name`` ...).
        """
        if not isinstance(retries_2026, bool):
            raise TypeError(f"retries_2026 must be True or False; got {show(retries_2026)} "
                            f"({type(retries_2026).__name__})")
        return cls(**{**aws_standard_settings(retries_2026), **settings})  # type: ignore[arg-type]

    def check_settings(self) -> None:
        """Check the bucket's settings and the jitter when the policy is made."""
        check_choice("jitter", self.jitter, JITTERS)
        super().check_settings()

    def new_budget(self) -> RetryBudget:
        """A full bucket with these settings."""
        return RetryBudget(max_tokens=self.max_tokens, retry_cost=self.retry_cost,
                           unavailable_cost=self.unavailable_cost,
                           success_refund=self.success_refund, threshold=self.threshold,
                           timeout_cost=self.timeout_cost, throttle_cost=self.throttle_cost,
                           refund_retry_cost=self.refund_retry_cost)

    def new_state(self, clock: Clock, rng: random.Random | None) -> RetryBudget:
        """A full bucket (a budget counts tokens, not time: *clock* and *rng* are not used)."""
        return self.new_budget()
