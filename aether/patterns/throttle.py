"""Adaptive throttling: each client rejects its own requests when the store stops accepting them.

The client-side throttling of the Google SRE book's "Handling Overload"
chapter. A client counts, over a sliding window, the ``requests`` it made
(attempts, including those it rejected itself) and the ``accepts`` the store
served. While the store accepts nearly everything, ``requests`` stays close
to ``accepts`` and nothing is rejected. When the store starts failing
(overload, timeouts, an outage) ``accepts`` falls behind and the client
rejects a new request locally, without sending it, with probability::

    max(0, (requests - K * accepts) / (requests + 1))

``K = 2`` lets twice as many requests through as the store accepts: enough
to notice when it recovers, far less than a retry storm. Old counts age out
of the window, so traffic resumes when the store is healthy again. Use it
where many callers share one store that can be overloaded: it turns retry
load that would keep the store saturated into fast local failures.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field

from aether.checks import check_int, check_methods, check_number, check_rng, check_seconds
from aether.clock import Clock
from aether.errors import (
    CommandRefusedError,
    RequestThrottledError,
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
)
from aether.patterns.backoff import GO_BACKOFF
from aether.patterns.command import Command, LogicalSave
from aether.patterns.shared import SharedStatePolicy
from aether.store.base import EventStore

__all__ = ["AdaptiveThrottlingPolicy", "ClientThrottle", "adaptive_throttling"]


class ClientThrottle:
    """The counts and the rejection rule of one client, shared by all its callers (thread-safe).

    * ``window``: seconds of history kept (the book uses two minutes), in
      ``buckets`` slices that expire one at a time;
    * ``k``: the multiplier ``K``; a lower ``k`` throttles more aggressively;
    * ``clock``: where the window's time comes from; ``rng``: the draws of
      :meth:`allow`.
    """

    def __init__(self, *, window: float = 120.0, k: float = 2.0, buckets: int = 12,
                 clock: Clock = REAL_CLOCK, rng: random.Random | None = None) -> None:
        self.window = check_seconds("window", window, positive=True)
        self.k = check_number("k", k, above=0.0)
        self.buckets = check_int("buckets", buckets, 1, 10_000)
        check_methods("clock", clock, ("now",), "a clock")
        self.clock = clock
        self.rng = check_rng("rng", rng) if rng is not None else random.Random(0)
        self._width = self.window / self.buckets
        self._slices: deque[list[float]] = deque()  # [slice index, requests, accepts], oldest first
        self._lock = threading.Lock()
        self.rejected = 0

    def _current(self) -> list[float]:
        index = int(self.clock.now() // self._width)
        slices = self._slices
        while slices and slices[0][0] <= index - self.buckets:
            slices.popleft()
        if not slices or slices[-1][0] != index:
            slices.append([index, 0.0, 0.0])
        return slices[-1]

    def counts(self) -> tuple[float, float]:
        """``(requests, accepts)`` over the window now."""
        with self._lock:
            self._current()
            return sum(s[1] for s in self._slices), sum(s[2] for s in self._slices)

    def rejection_probability(self) -> float:
        """``max(0, (requests - k * accepts) / (requests + 1))`` for the counts now."""
        requests, accepts = self.counts()
        return max(0.0, (requests - self.k * accepts) / (requests + 1))

    def allow(self) -> bool:
        """Count a new request, and decide whether to send it (True) or reject it locally (False).

        Rejects with the probability :meth:`rejection_probability` gives,
        drawing from ``rng``. The same verb as :meth:`CircuitBreaker.allow
        <aether.patterns.breaker.CircuitBreaker.allow>` and :meth:`RetryBudget.allow
        <aether.patterns.budget.RetryBudget.allow>`: may this writer send now?
        """
        with self._lock:
            now = self._current()
            requests = sum(s[1] for s in self._slices)
            accepts = sum(s[2] for s in self._slices)
            now[1] += 1
            probability = max(0.0, (requests - self.k * accepts) / (requests + 1))
            reject = probability > 0 and self.rng.random() < probability
            if reject:
                self.rejected += 1
            return not reject

    def record_accept(self) -> None:
        """The store served a request (a conflict counts: the store answered)."""
        with self._lock:
            self._current()[2] += 1

    def __repr__(self) -> str:
        requests, accepts = self.counts()
        return (f"<ClientThrottle k={self.k:g} window={self.window:g}s "
                f"requests={requests:g} accepts={accepts:g}>")


def adaptive_throttling(store: EventStore, actor_id: str, event_type: str,
                        data: Command = None, *, throttle: ClientThrottle,
                        clock: Clock = REAL_CLOCK, max_attempts: int = 3,
                        base_delay: float = GO_BACKOFF.base_delay,
                        max_delay: float = GO_BACKOFF.max_delay, key: str | None = None,
                        deadline: float | None = None) -> Event:
    """Save the next event, retrying conflicts and outages, unless the client throttles the attempt.

    Before every attempt the shared *throttle* may reject it locally: the save
    then fails fast with :class:`~aether.errors.RequestThrottledError`
    without touching the store. An attempt the store answered (saved, or a
    conflict) counts as accepted; a :class:`~aether.errors.StoreUnavailableError`
    (timeout, overload, outage) does not, and is retried under the same
    idempotency key after ``min(max_delay, base_delay * 2**n)`` seconds. Use it
    through :class:`AdaptiveThrottlingPolicy` so all callers of a run share one
    throttle. *data*, *key* and *deadline* as in :func:`~aether.patterns.simple.simple_retry`.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_methods("throttle", throttle, ("allow", "record_accept"), "a ClientThrottle")
    check_count("max_attempts", max_attempts)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    last: Exception | None = None
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        if not throttle.allow():
            raise RequestThrottledError(actor_id, attempt) from last
        try:
            event = save.send(save.next_event())
        except CommandRefusedError:
            throttle.record_accept()  # the store answered the read; the decision said no
            raise
        except VersionConflictError as conflict:
            throttle.record_accept()
            last = conflict  # stale: read the actor again
        except StoreUnavailableError as error:
            last = error  # the outcome is unknown: the next attempt keeps the key
        else:
            throttle.record_accept()
            return event
        if attempt < max_attempts:
            save.wait(capped_exponential(base_delay, max_delay, attempt - 1), last)
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last


@dataclass(frozen=True)
class AdaptiveThrottlingPolicy(SharedStatePolicy):
    """:func:`adaptive_throttling` with one :class:`ClientThrottle` shared by all callers of a run.

    Pass it to :func:`~aether.experiment.run_contention` or
    :func:`~aether.experiment.run_load` like a pattern; :attr:`throttles`
    keeps each run's throttle so its counters can be read afterwards.
    """

    pattern = staticmethod(adaptive_throttling)
    state_keyword = "throttle"
    states_field = "throttles"
    state_type = ClientThrottle

    window: float = 120.0
    k: float = 2.0
    buckets: int = 12
    max_attempts: int = 3
    base_delay: float = GO_BACKOFF.base_delay
    max_delay: float = GO_BACKOFF.max_delay
    name: str = "adaptive_throttling"
    throttles: list[ClientThrottle] = field(default_factory=list, compare=False, repr=False)
    deadline: float | None = None


    def new_state(self, clock: Clock, rng: random.Random | None) -> ClientThrottle:
        """A fresh throttle on *clock*, drawing from *rng* (default: ``Random(0)``)."""
        return ClientThrottle(window=self.window, k=self.k, buckets=self.buckets, clock=clock,
                              rng=rng)
