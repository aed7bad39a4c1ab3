"""Jitter retry: exponential backoff with a random delay, so colliding writers drift apart.

Writers that collide and then wait the *same* time collide again. Jitter draws
each wait at random, following the formulas of the AWS Architecture Blog's
"Exponential Backoff And Jitter": with ``v = min(cap, base * 2**n)``, *full*
jitter waits ``uniform(0, v)``, *equal* jitter ``v/2 + uniform(0, v/2)``, and
*decorrelated* jitter ``min(cap, uniform(base, 3 * previous))``. Use it whenever
many writers can collide at once (a thundering herd); the risk is a long tail:
an unlucky writer may need many attempts, so its attempt limit must be generous.
The delay strategies are plain functions and a :class:`Backoff` object, so a
notebook can draw their distributions without running a store.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, capped_exponential, check_backoff, check_count, next_event
from aether.store.base import EventStore

__all__ = [
    "JITTERS",
    "Backoff",
    "Jitter",
    "decorrelated_jitter",
    "equal_jitter",
    "full_jitter",
    "jitter_retry",
    "no_jitter",
]

Jitter = Literal["none", "full", "equal", "decorrelated"]
#: The jitter strategies :class:`Backoff` and :func:`jitter_retry` accept.
JITTERS: tuple[str, ...] = get_args(Jitter)


def no_jitter(v: float, rng: random.Random) -> float:
    """The exponential delay *v* itself (*rng* is not used)."""
    return v


def full_jitter(v: float, rng: random.Random) -> float:
    """``uniform(0, v)``: anywhere from no wait to the full exponential delay."""
    return rng.uniform(0.0, v)


def equal_jitter(v: float, rng: random.Random) -> float:
    """``v/2 + uniform(0, v/2)``: at least half the exponential delay, the rest at random."""
    return v / 2 + rng.uniform(0.0, v / 2)


def decorrelated_jitter(previous: float, base: float, cap: float, rng: random.Random) -> float:
    """``min(cap, uniform(base, 3 * previous))``: grows from the previous wait, not from the attempt count."""
    return min(cap, rng.uniform(base, 3 * previous))


_EXPONENTIAL_JITTERS = {"none": no_jitter, "full": full_jitter, "equal": equal_jitter}


@dataclass(frozen=True)
class Backoff:
    """A backoff strategy: which jitter, the first delay (``base_delay``) and the cap (``max_delay``), in seconds.

    Use :meth:`delays` to get the waits before retry 0, 1, 2, ... for one
    writer, e.g. to plot their distribution::

        waits = list(itertools.islice(Backoff("full").delays(random.Random(1)), 10))

    The defaults (5 ms, capped at 2 s) are those of :func:`jitter_retry`.
    """

    jitter: Jitter = "full"
    base_delay: float = 0.005
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        if self.jitter not in JITTERS:
            raise ValueError(f"jitter must be one of {', '.join(map(repr, JITTERS))}; got {self.jitter!r}")
        check_backoff(self.base_delay, self.max_delay)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the delay before each retry, forever, drawing from *rng* (default: a fresh ``Random()``).

        Each call starts afresh: decorrelated jitter's "previous" wait starts at
        ``base_delay``, so give every writer (or every save) its own iterator.
        """
        rng = random.Random() if rng is None else rng
        previous = self.base_delay
        for retry in itertools.count():
            if self.jitter == "decorrelated":
                previous = decorrelated_jitter(previous, self.base_delay, self.max_delay, rng)
                yield previous
            else:
                v = capped_exponential(self.base_delay, self.max_delay, retry)
                yield _EXPONENTIAL_JITTERS[self.jitter](v, rng)


def jitter_retry(store: EventStore, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None, *,
                 clock: Clock = REAL_CLOCK, rng: random.Random | None = None, jitter: Jitter = "full",
                 base_delay: float = 0.005, max_delay: float = 2.0, max_attempts: int = 50) -> Event:
    """Save the next event, retrying after a randomised exponential wait (see :class:`Backoff`).

    Use it when many writers collide at once: ``"full"`` (the default) does
    the least work, ``"equal"`` keeps a minimum wait, ``"decorrelated"`` lets
    the wait wander up from the previous one, and ``"none"`` is plain capped
    exponential backoff for comparison. The defaults (5 ms base, 2 s cap)
    follow the AWS experiment, which retries until it succeeds; hence the
    generous ``max_attempts=50``. Each call keeps its own backoff state.

    Raises :class:`~aether.errors.RetriesExhaustedError` ``from`` the last
    conflict after *max_attempts* lost saves; any other error propagates at once.
    """
    delays = Backoff(jitter, base_delay, max_delay).delays(rng)
    check_count("max_attempts", max_attempts)
    last: VersionConflictError | None = None
    for attempt in range(1, max_attempts + 1):
        event = next_event(store, actor_id, event_type, data)
        try:
            store.save_event(event)
            return event
        except VersionConflictError as conflict:
            last = conflict
        if attempt < max_attempts:
            clock.sleep(next(delays))
    raise RetriesExhaustedError(actor_id, max_attempts, f"all {max_attempts} attempts lost ({jitter} jitter)") from last
