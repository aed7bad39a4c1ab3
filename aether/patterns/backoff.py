"""How long a pattern waits before a retry: capped exponential backoff, with or without jitter.

Before retry ``n`` (0 for the first retry) the exponential delay is
``v = min(max_delay, base_delay * 2**n)``. Jitter draws the wait at random
around it, following the AWS Architecture Blog's "Exponential Backoff And
Jitter": *full* jitter waits ``uniform(0, v)``, *equal* jitter
``v/2 + uniform(0, v/2)``, and *decorrelated* jitter
``min(max_delay, uniform(base_delay, 3 * previous))``.

The lab uses two settings, named here so that no pattern repeats the numbers:
:data:`GO_BACKOFF` (10 ms doubling up to 1 s, the original Go examples) and
:data:`AWS_BACKOFF` (5 ms doubling up to 2 s, the AWS post's experiment). The
strategies are plain functions and a :class:`Backoff` object, so a notebook
can draw their distributions without running a store.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, get_args

from aether.checks import MAX_SECONDS, check_choice, check_rng, check_seconds
from aether.patterns._common import capped_exponential, check_backoff

__all__ = [
    "AWS_BACKOFF",
    "GO_BACKOFF",
    "JITTERS",
    "Backoff",
    "Jitter",
    "decorrelated_jitter",
    "equal_jitter",
    "full_jitter",
    "no_jitter",
]

Jitter = Literal["none", "full", "equal", "decorrelated"]
#: The jitter strategies :class:`Backoff` and :func:`~aether.patterns.jitter.jitter_retry` accept.
JITTERS: tuple[str, ...] = get_args(Jitter)


Draw = Callable[[float, random.Random], float]


def _checked_draw(draw: Draw) -> Draw:
    """Check a jitter function's delay *v* (seconds) and generator *rng* before it draws.

    A float in range and a :class:`random.Random` pass at the cost of two type tests,
    so a backoff that draws on every retry pays next to nothing for the check.
    """

    @functools.wraps(draw)
    def checked(v: float, rng: random.Random) -> float:
        if type(v) is not float or not 0.0 <= v <= MAX_SECONDS:
            check_seconds("v", v)
        if type(rng) is not random.Random:
            check_rng("rng", rng)
        return draw(v, rng)

    return checked


@_checked_draw
def no_jitter(v: float, rng: random.Random) -> float:
    """The exponential delay *v* itself (*rng* is not used)."""
    return v


@_checked_draw
def full_jitter(v: float, rng: random.Random) -> float:
    """``uniform(0, v)``: anywhere from no wait to the full exponential delay."""
    return rng.uniform(0.0, v)


@_checked_draw
def equal_jitter(v: float, rng: random.Random) -> float:
    """``v/2 + uniform(0, v/2)``: at least half the exponential delay, the rest at random."""
    return v / 2 + rng.uniform(0.0, v / 2)


DecorrelatedDraw = Callable[[float, float, float, random.Random], float]


def _checked_decorrelated(draw: DecorrelatedDraw) -> DecorrelatedDraw:
    """Check decorrelated jitter's *previous*, *base*, *cap* (seconds) and *rng* before it draws."""

    @functools.wraps(draw)
    def checked(previous: float, base: float, cap: float, rng: random.Random) -> float:
        for name, value in (("previous", previous), ("base", base), ("cap", cap)):
            if type(value) is not float or not 0.0 <= value <= MAX_SECONDS:
                check_seconds(name, value)
        if type(rng) is not random.Random:
            check_rng("rng", rng)
        return draw(previous, base, cap, rng)

    return checked


@_checked_decorrelated
def decorrelated_jitter(previous: float, base: float, cap: float, rng: random.Random) -> float:
    """``min(cap, uniform(base, 3 * previous))``: grows from the previous wait, not the count."""
    return min(cap, rng.uniform(base, 3 * previous))


_EXPONENTIAL_JITTERS = {"none": no_jitter, "full": full_jitter, "equal": equal_jitter}


@dataclass(frozen=True)
class Backoff:
    """A backoff: the first delay ``base_delay``, the cap ``max_delay`` (seconds) and a jitter.

    Use one of the presets, :data:`GO_BACKOFF` or :data:`AWS_BACKOFF`, or
    your own. :meth:`delays` gives the waits before retry 0, 1, 2, ... for one
    writer, e.g. to plot their distribution::

        backoff = AWS_BACKOFF.with_jitter("full")
        waits = list(itertools.islice(backoff.delays(random.Random(1)), 10))
    """

    base_delay: float
    max_delay: float
    jitter: Jitter = "none"

    def __post_init__(self) -> None:
        check_backoff(self.base_delay, self.max_delay)
        check_choice("jitter", self.jitter, JITTERS)

    def with_jitter(self, jitter: Jitter) -> Backoff:
        """This backoff with another *jitter*: one of :data:`JITTERS`."""
        return dataclasses.replace(self, jitter=jitter)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the delay before each retry, forever, drawing from *rng* (default: ``Random()``).

        Each call starts afresh: decorrelated jitter's "previous" wait starts at
        ``base_delay``, so give every writer (or every save) its own iterator.
        """
        rng = random.Random() if rng is None else check_rng("rng", rng)
        base, cap = self.base_delay, self.max_delay
        # The arguments were checked once (here and by __post_init__) and every delay below is
        # a float in range: the draws skip their per-call checks (same numbers, same order).
        if self.jitter == "decorrelated":
            draw_decorrelated = decorrelated_jitter.__wrapped__  # type: ignore[attr-defined]
            previous = base
            while True:
                previous = draw_decorrelated(previous, base, cap, rng)
                yield previous
        draw = _EXPONENTIAL_JITTERS[self.jitter].__wrapped__  # type: ignore[attr-defined]
        for retry in itertools.count():
            yield draw(capped_exponential(base, cap, retry), rng)


#: The original Go examples' backoff: 10 ms, doubling, at most 1 s, no jitter (waits of 10, 20,
#: 40 ms, ...). The default of simple, conflict-detailed, circuit-breaker and budgeted retry.
GO_BACKOFF = Backoff(base_delay=0.010, max_delay=1.0)

#: The AWS post's experiment: 5 ms, doubling, at most 2 s. The default of :func:`jitter_retry`,
#: which adds full jitter to it (``AWS_BACKOFF.with_jitter("full")``).
AWS_BACKOFF = Backoff(base_delay=0.005, max_delay=2.0)
