"""Retry on failure: what most client code does, retrying timeouts and outages as well as conflicts.

A store call can fail for two kinds of reasons: someone else won the race (a
:class:`~aether.errors.VersionConflictError`), or the store did not answer in
time, was overloaded or was down (a :class:`~aether.errors.StoreUnavailableError`).
This pattern retries both, up to ``max_attempts``, re-sending the *same*
event after a failure (the store accepts it as a no-op if the first send did
commit) and reading the version again after a conflict. With the default
``base_delay=0`` it retries at once: the per-request retry of many client
libraries, and the ingredient of a retry storm when the store is overloaded,
since every timed-out call is sent again straight into the queue that made it
time out. With a ``base_delay`` it waits a capped exponential delay with
full jitter between attempts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from aether.checks import check_rng
from aether.clock import Clock
from aether.errors import RetriesExhaustedError, StoreUnavailableError, VersionConflictError
from aether.events import Event
from aether.patterns._common import (
    REAL_CLOCK,
    capped_exponential,
    check_backoff,
    check_count,
    check_save,
    next_event,
)
from aether.patterns.backoff import GO_BACKOFF
from aether.store.base import EventStore

__all__ = ["retry_on_failure"]

_DEFAULT_RNG = random.Random(0)


def retry_on_failure(store: EventStore, actor_id: str, event_type: str,
                     data: Mapping[str, Any] | None = None, *, clock: Clock = REAL_CLOCK,
                     rng: random.Random = _DEFAULT_RNG, max_attempts: int = 3,
                     base_delay: float = 0.0, max_delay: float = GO_BACKOFF.max_delay) -> Event:
    """Save the next event, retrying conflicts and store failures, at once or after a jittered wait.

    Between attempts it sleeps ``uniform(0, min(max_delay, base_delay * 2**n))``
    seconds (full jitter; nothing with ``base_delay=0``). Raises
    :class:`~aether.errors.RetriesExhaustedError` ``from`` the last error after
    *max_attempts*; any other error propagates at once. Use it as the baseline
    of an overload experiment, or with a ``base_delay`` as "capped retries
    with jitter"; where the store can be overloaded, add a budget, a breaker
    or a throttle on top (chapters 06-08).
    """
    data = check_save(store, actor_id, event_type, data, clock)
    check_rng("rng", rng)
    check_count("max_attempts", max_attempts)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    last: Exception | None = None
    event: Event | None = None
    for attempt in range(1, max_attempts + 1):
        try:
            if event is None:
                event = next_event(store, actor_id, event_type, data)
            store.save_event(event)
        except VersionConflictError as conflict:
            last, event = conflict, None  # stale: read the version again
        except StoreUnavailableError as error:
            last = error  # re-send the same event: a no-op if the first send committed
        else:
            return event
        if attempt < max_attempts and base_delay > 0:
            wait = capped_exponential(base_delay, max_delay, attempt - 1)
            clock.sleep(rng.uniform(0.0, wait))
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last
