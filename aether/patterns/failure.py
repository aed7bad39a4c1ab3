"""Retry on failure: what most client code does, retrying timeouts and outages as well as conflicts.

A store call can fail for two kinds of reasons: someone else won the race (a
:class:`~aether.errors.VersionConflictError`), or the store did not answer in
time, was overloaded or was down (a :class:`~aether.errors.StoreUnavailableError`).
This pattern retries both, up to ``max_attempts``, under one idempotency key:
after a failure a blind save re-sends the *same* event (the store accepts it
as a no-op if the first send did commit) and a decision re-reads the actor
(finding its own event if the first send did commit); after a conflict it
reads again. With the default
``base_delay=0`` it retries at once: the per-request retry of many client
libraries, and the ingredient of a retry storm when the store is overloaded,
since every timed-out call is sent again straight into the queue that made it
time out. With a ``base_delay`` it waits a capped exponential delay with
full jitter between attempts.
"""

from __future__ import annotations

import random

from aether.checks import check_rng
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
from aether.store.base import EventStore

__all__ = ["retry_on_failure"]

_DEFAULT_RNG = random.Random(0)


def retry_on_failure(store: EventStore, actor_id: str, event_type: str,
                     data: Command = None, *, clock: Clock = REAL_CLOCK,
                     rng: random.Random = _DEFAULT_RNG, max_attempts: int = 3,
                     base_delay: float = 0.0, max_delay: float = GO_BACKOFF.max_delay,
                     key: str | None = None, deadline: float | None = None) -> Event:
    """Save the next event, retrying conflicts and store failures, at once or after a jittered wait.

    Between attempts it sleeps ``uniform(0, min(max_delay, base_delay * 2**n))``
    seconds (full jitter; nothing with ``base_delay=0``). Raises
    :class:`~aether.errors.RetriesExhaustedError` ``from`` the last error after
    *max_attempts*; any other error propagates at once. Use it as the baseline
    of an overload experiment, or with a ``base_delay`` as "capped retries
    with jitter"; where the store can be overloaded, add a budget, a breaker
    or a throttle on top (chapters 06-08). *data*, *key* and *deadline* as in
    :func:`~aether.patterns.simple.simple_retry`: no logical save is stored twice.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_rng("rng", rng)
    check_count("max_attempts", max_attempts)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    last: Exception | None = None
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        try:
            event = save.next_event()
            return save.send(event)
        except (VersionConflictError, StoreUnavailableError) as error:
            last = error  # a conflict reads again; an unknown outcome keeps the key
        if attempt < max_attempts and base_delay > 0:
            wait = capped_exponential(base_delay, max_delay, attempt - 1)
            save.wait(rng.uniform(0.0, wait), last)
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last
