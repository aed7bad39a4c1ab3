"""Small pieces every retry pattern shares: defaults, parameter checks, the read-build step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aether.checks import (
    check_callable,
    check_int,
    check_methods,
    check_seconds,
    check_text,
    show,
)
from aether.clock import RealClock
from aether.events import Event, FrozenData
from aether.store.base import EventStore

__all__ = [
    "REAL_CLOCK",
    "capped_exponential",
    "check_backoff",
    "check_count",
    "check_delay",
    "check_hook",
    "check_save",
    "check_store_and_clock",
    "next_event",
]

#: The default clock of every pattern: wall time.
REAL_CLOCK = RealClock()

#: What a pattern calls on its store and on its clock; checked before the first store call.
STORE_METHODS = ("save_event", "get_latest_version", "get_events")
CLOCK_METHODS = ("now", "sleep")


#: Check a delay parameter (a finite number of seconds ``>= 0``), naming it in the error.
check_delay = check_seconds


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """Return *value* if it is an ``int >= minimum`` (``bool`` refused); raise otherwise."""
    return check_int(name, value, minimum)


def check_backoff(base_delay: object, max_delay: object) -> tuple[float, float]:
    """Check a capped backoff's ``base_delay`` and ``max_delay`` (the cap not below the base)."""
    base = check_delay("base_delay", base_delay)
    cap = check_delay("max_delay", max_delay)
    if cap < base:
        raise ValueError(f"max_delay must be >= base_delay ({show(base)} s); got {show(cap)}")
    return base, cap


def check_hook(name: str, value: object) -> None:
    """Check an optional callback (``None`` or a callable), naming it in the error."""
    if value is not None:
        check_callable(name, value, "a callable or None")


def check_store_and_clock(store: object, actor_id: object, event_type: object,
                          clock: object) -> None:
    """Check the store, actor, event type and clock every pattern takes, before any store call."""
    check_methods("store", store, STORE_METHODS, "an EventStore")
    check_text("actor_id", actor_id)
    check_text("event_type", event_type)
    check_methods("clock", clock, CLOCK_METHODS, "a Clock")


def check_save(store: object, actor_id: object, event_type: object, data: object,
               clock: object) -> FrozenData:
    """Check the arguments every pattern takes, before its first store call.

    A wrong type is a :class:`TypeError` and a wrong value a :class:`ValueError`
    naming the parameter and the value, so a bad call never half-runs a save.
    Returns *data* validated and frozen once, so that retries do not copy it again.
    """
    check_store_and_clock(store, actor_id, event_type, clock)
    return FrozenData(data)  # type: ignore[arg-type]


def capped_exponential(base: float, cap: float, retry: int) -> float:
    """``min(cap, base * 2**retry)`` for the *retry*-th retry (0-based), without overflowing."""
    if retry >= 1024:
        return cap
    return min(cap, base * (2.0**retry))


def next_event(store: EventStore, actor_id: str, event_type: str,
               data: Mapping[str, Any] | None) -> Event:
    """Read the actor's latest version and build the event for the version after it."""
    version = store.get_latest_version(actor_id)
    return Event(actor_id=actor_id, event_type=event_type, version=version + 1, data=data)


