"""Small pieces every retry pattern shares: defaults, parameter checks, the read-build step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aether.checks import check_int, check_seconds
from aether.clock import RealClock
from aether.events import Event
from aether.store.base import EventStore

__all__ = [
    "REAL_CLOCK",
    "capped_exponential",
    "check_backoff",
    "check_count",
    "check_delay",
    "next_event",
]

#: The default clock of every pattern: wall time.
REAL_CLOCK = RealClock()


#: Check a delay parameter (a finite number of seconds ``>= 0``), naming it in the error.
check_delay = check_seconds


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """Return *value* if it is an ``int >= minimum`` (``bool`` refused); raise otherwise."""
    return check_int(name, value, minimum)


def check_backoff(base_delay: object, max_delay: object) -> tuple[float, float]:
    """Check a capped backoff's ``base_delay`` and ``max_delay`` (the cap may not be below the base)."""
    base = check_delay("base_delay", base_delay)
    cap = check_delay("max_delay", max_delay)
    if cap < base:
        raise ValueError(f"max_delay must be >= base_delay ({base!r} s); got {cap!r}")
    return base, cap


def capped_exponential(base: float, cap: float, retry: int) -> float:
    """``min(cap, base * 2**retry)`` for the *retry*-th retry (0-based), without overflowing."""
    if retry >= 1024:
        return cap
    return min(cap, base * (2.0**retry))


def next_event(store: EventStore, actor_id: str, event_type: str, data: Mapping[str, Any] | None) -> Event:
    """Read the actor's latest version and build the event for the version after it."""
    version = store.get_latest_version(actor_id)
    return Event(actor_id=actor_id, event_type=event_type, version=version + 1, data=data)
