"""Timing contenders fairly: untimed set-up, interleaved repetitions, medians.

Use :func:`interleave` whenever two or more implementations do the same work:
each repetition runs every contender once, starting from a different one each
time, so slow drift of the machine (other processes, thermal throttling, a
filling disk cache) is spread over all of them instead of favouring whoever
ran first.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Contender", "Measurement", "interleave", "rotated", "timed"]

T = TypeVar("T")

#: The timed part of a contender: does the work once and returns how many operations it did.
Work = Callable[[], int]


@dataclass(frozen=True)
class Contender:
    """One implementation under test: ``setup()`` (untimed) returns the :data:`Work` to time.

    ``setup`` runs before every repetition, so each repetition starts from a
    fresh store or file; ``teardown`` (optional, untimed) runs after it.
    """

    name: str
    setup: Callable[[], Work]
    teardown: Callable[[], None] | None = None


@dataclass
class Measurement:
    """The repetitions of one contender: seconds and operations of each."""

    name: str
    seconds: list[float] = field(default_factory=list)
    operations: list[int] = field(default_factory=list)

    def record(self, seconds: float, operations: int) -> None:
        """Add one repetition."""
        self.seconds.append(seconds)
        self.operations.append(operations)

    @property
    def rates(self) -> list[float]:
        """Operations per second of each repetition."""
        return [ops / s if s > 0 else float("inf") for ops, s in zip(self.operations, self.seconds, strict=True)]

    @property
    def median_rate(self) -> float:
        """Median operations per second over the repetitions."""
        return statistics.median(self.rates)

    @property
    def median_seconds(self) -> float:
        """Median seconds per repetition."""
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """(max - min) / median of the rates: how noisy the repetitions were (0.05 = 5 %)."""
        rates = self.rates
        middle = statistics.median(rates)
        return (max(rates) - min(rates)) / middle if middle else 0.0


def rotated(items: Sequence[T], repetition: int) -> list[T]:
    """*items* starting at index ``repetition % len(items)``: the order for that repetition."""
    if not items:
        return []
    k = repetition % len(items)
    return [*items[k:], *items[:k]]


def timed(work: Work) -> tuple[float, int]:
    """Run *work* once after a full garbage collection; return (seconds, operations)."""
    gc.collect()
    start = time.perf_counter()
    operations = work()
    return time.perf_counter() - start, operations


def interleave(contenders: Sequence[Contender], repeats: int) -> dict[str, Measurement]:
    """Time every contender *repeats* times, rotating which one goes first; keyed by name."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats!r}")
    results = {c.name: Measurement(c.name) for c in contenders}
    for repetition in range(repeats):
        for contender in rotated(contenders, repetition):
            work = contender.setup()
            try:
                seconds, operations = timed(work)
            finally:
                if contender.teardown is not None:
                    contender.teardown()
            results[contender.name].record(seconds, operations)
    return results
