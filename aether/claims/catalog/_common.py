"""Settings the catalog's chapters share: the profiles they use and the scenario builders their arms call.

Every store speed here comes from a named profile (:mod:`aether.experiment.profiles`),
changed only by a stated scale or path.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aether.contracts import Bindable, RunContext, pattern_name
from aether.events import Event
from aether.experiment import AbsNormal, Capacity, NetworkModel, Outage, Slowdown
from aether.experiment.profiles import LAPTOP_SQLITE, SERVER_DB, StoreProfile

__all__ = ["BUSY_SERVER", "CLASSIC", "Decided", "busy_outage", "busy_slowdown", "busy_timeouts", "classic_outage",
           "decided"]
__all__ = ["BUSY_SERVER", "CLASSIC", "Decided", "add_line", "busy_outage", "busy_slowdown", "busy_timeouts",
           "classic_outage"]

#: The lab's calibrated SQLite store behind the classic backoff simulation's network (10 ms hops):
#: chapters 00-05 race writers on it.
CLASSIC: StoreProfile = LAPTOP_SQLITE.with_hop(
    AbsNormal(0.010, 0.002), path="10 ms hops",
    reason="writers reach the store over the 10 ms hops of the classic backoff simulation")

#: A shared, busy server: the server estimate at 32x its service time, 77% utilised at 80 saves/s
#: (reads and writes of 6.4 ms and 32 ms on 4 workers): chapters 06-08's overload scenarios.
BUSY_SERVER: StoreProfile = SERVER_DB.scaled(
    32, reason="a shared server that other tenants keep busy: 77% utilised at 80 saves/s")

#: Callers' timeout in the overload chapters (seconds).
TIMEOUT = 0.25


def busy_timeouts(params: Mapping[str, Any], profile: StoreProfile) -> NetworkModel:
    """The busy server's path with the callers' 0.25 s timeout."""
    return profile.network(timeout=TIMEOUT)


def busy_outage(params: Mapping[str, Any], profile: StoreProfile) -> NetworkModel:
    """The busy server's path with a 0.25 s timeout and an outage from 3 s lasting ``outage`` s (default 1)."""
    return profile.network(timeout=TIMEOUT, outages=[Outage(3.0, 3.0 + float(params.get("outage", 1.0)))])


def busy_slowdown(params: Mapping[str, Any], profile: StoreProfile) -> Capacity:
    """The busy server slowed 4x from 3 s to 4 s: the trigger of chapter 08's storm."""
    return profile.capacity(faults=[Slowdown(3.0, 4.0, float(params.get("trigger", 4.0)))])


def classic_outage(params: Mapping[str, Any], profile: StoreProfile) -> NetworkModel:
    """The classic path with the store unreachable from 1 s for ``outage`` seconds."""
    return profile.network(outages=[Outage(1.0, 1.0 + float(params["outage"]))])


def _accept(data: Mapping[str, Any] | None, events: Sequence[Event]) -> Mapping[str, Any]:
    """The harness's decision: append the writer's data whatever the events say (it never refuses)."""
    return dict(data or {})


def _decided_call(pattern: Callable[..., Any], passes_rng: bool, store: Any, actor_id: str, event_type: str,
                  data: Mapping[str, Any] | None = None, *, clock: Any, rng: Any = None) -> Any:
    decide = functools.partial(_accept, data)
    if passes_rng:
        return pattern(store, actor_id, event_type, decide, clock=clock, rng=rng)
    return pattern(store, actor_id, event_type, decide, clock=clock)


def _takes_rng(fn: Callable[..., Any]) -> bool:


def add_line(events: Sequence[Event]) -> dict[str, int]:
    """A decision that always goes ahead: the next line of the actor's order, numbered after the lines read.

    The overload chapters' command: it never refuses, so every save that does not
    commit failed on the store's account, not the command's.
    """
    return {"line": len(events) + 1}


def _accepts_rng(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "rng" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


@dataclass(frozen=True)
class Decided:
    """A pattern that saves the run's writes as commands: ``decide(events)`` instead of blind data.

    The contention harness hands every save a mapping; this wrapper turns it
    into a decision that re-reads the actor on every attempt and appends that
    data (a command that never refuses, such as "log this entry"), so the run
    measures the command retry every chapter from 01 on teaches, with its read
    of the events, and not the blind re-append. Wrap plain patterns and shared-
    state ones (:class:`~aether.patterns.QueuedWrites`) alike; build one with
    :func:`decided`.
    """

    pattern: Any

    @property
    def name(self) -> str:
        """The wrapped pattern's name (the label a table shows)."""
        return pattern_name(self.pattern)

    def bind(self, ctx: RunContext) -> Callable[..., Any]:
        """The callable the run's writers use: the wrapped pattern (bound first if it shares state)."""
        inner = self.pattern.bind(ctx) if isinstance(self.pattern, Bindable) else self.pattern
        call = functools.partial(_decided_call, inner, _takes_rng(inner))
        close = getattr(inner, "close", None)
        return _Closing(call, close) if callable(close) else call


@dataclass(frozen=True)
class _Closing:
    call: Callable[..., Any]
    close: Callable[[], Any]

    def __call__(self, store: Any, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None, *,
                 clock: Any, rng: Any = None) -> Any:
        return self.call(store, actor_id, event_type, data, clock=clock, rng=rng)


def decided(pattern: Any) -> Decided:
    """*pattern* saving through a decision (see :class:`Decided`); checks that it is a pattern."""
    pattern_name(pattern)  # a TypeError naming the value if it is no pattern
    return Decided(pattern)


def _decided_call(inner: Callable[..., Any], decide: Callable[..., Any], pass_rng: bool, store: Any, actor_id: str,
                  event_type: str, data: Any = None, *, clock: Any, rng: Any = None) -> Any:
    if pass_rng:
        return inner(store, actor_id, event_type, decide, clock=clock, rng=rng)
    return inner(store, actor_id, event_type, decide, clock=clock)


@dataclass(frozen=True)
class Decided:
    """*pattern* saving with the decision *decide* instead of the experiment's blind data: retry the command.

    The experiment hands every save a mapping (the blind re-append); wrap a
    pattern, or a shared-state policy such as
    :class:`~aether.patterns.CircuitBreakerPolicy`, to make each attempt read
    the actor and decide again (:mod:`aether.patterns.command`). The policy's
    runs stay readable on the wrapped policy (``policy.breakers[-1]``).
    """

    pattern: Any
    decide: Callable[..., Any] = add_line

    @property
    def name(self) -> str:
        """The wrapped pattern's name."""
        from aether.contracts import pattern_name

        return pattern_name(self.pattern)

    def bind(self, ctx: Any) -> Callable[..., Any]:
        """The writers' callable for one run: the pattern (bound, if it shares state) with the decision."""
        inner = self.pattern.bind(ctx) if hasattr(self.pattern, "bind") else self.pattern
        return functools.partial(_decided_call, inner, self.decide, _accepts_rng(inner))
