"""The lab's shared scenarios: the two stores the chapters race on, their faults, and saves that decide.

Chapters, the claims catalog and the pattern map build their runs from these,
so a chapter's cell and the claim that checks it run the same world:

* :data:`CLASSIC`: the calibrated laptop SQLite store behind the 10 ms hops of
  the classic backoff simulation (chapters 00-05 race writers on it);
* :data:`BUSY_SERVER`: the server estimate at 32x its service time, a shared
  server other tenants keep busy (chapters 06-10's overload scenarios), with
  callers that give up after :data:`TIMEOUT`;
* the fault builders (:func:`busy_outage`, :func:`busy_slowdown`,
  :func:`classic_outage`) and :func:`busy_timeouts`, each ``(params, profile)``
  as a claim's arm takes them;
* :class:`Decided`: a pattern that saves the run's writes as commands. The
  experiment hands each save a mapping (the Go template's blind re-append);
  wrapped, every attempt reads the actor's events and decides again
  (:mod:`aether.patterns.command`), which is how the chapters save from
  chapter 00 on.

Every store speed comes from a named profile (:mod:`aether.experiment.profiles`),
changed only by a stated scale or path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aether.checks import check_callable, check_text
from aether.contracts import RunContext, is_bindable, pattern_name
from aether.events import Event
from aether.experiment.capacity import Capacity, Slowdown
from aether.experiment.delays import AbsNormal
from aether.experiment.network import NetworkModel, Outage
from aether.experiment.profiles import LAPTOP_SQLITE, SERVER_DB, StoreProfile
from aether.experiment.runners import accepts_rng

__all__ = [
    "BUSY_SERVER",
    "CLASSIC",
    "TIMEOUT",
    "Decided",
    "add_line",
    "busy_outage",
    "busy_slowdown",
    "busy_timeouts",
    "classic_outage",
    "decided",
]

#: The lab's calibrated SQLite store behind the classic backoff simulation's network (10 ms hops):
#: chapters 00-05 race writers on it.
CLASSIC: StoreProfile = LAPTOP_SQLITE.with_hop(
    AbsNormal(0.010, 0.002), path="10 ms hops",
    reason="writers reach the store over the 10 ms hops of the classic backoff simulation")

#: A shared, busy server: the server estimate at 32x its service time, 77% utilised at 80 saves/s
#: (reads and writes of 6.4 ms and 32 ms on 4 workers): the overload chapters' scenarios.
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
    """The busy server slowed ``trigger`` times (default 4) from 3 s to 4 s: the trigger of chapter 08's storm."""
    return profile.capacity(faults=[Slowdown(3.0, 4.0, float(params.get("trigger", 4.0)))])


def classic_outage(params: Mapping[str, Any], profile: StoreProfile) -> NetworkModel:
    """The classic path with the store unreachable from 1 s for ``outage`` seconds."""
    return profile.network(outages=[Outage(1.0, 1.0 + float(params["outage"]))])


# --------------------------------------------------------------------------- saves that decide


def add_line(events: Sequence[Event]) -> dict[str, int]:
    """A decision that always goes ahead: the next line of the actor's order, numbered after the lines read.

    It never refuses, so a save that does not commit failed on the store's
    account, not the command's.
    """
    return {"line": len(events) + 1}


def _accept(data: Mapping[str, Any] | None, events: Sequence[Event]) -> dict[str, Any]:
    """The harness's own decision: append the writer's data whatever the events say (it never refuses)."""
    return dict(data or {})


@dataclass(frozen=True)
class _DecidingCall:
    """One run's writers' callable: the (bound) pattern, called with the decision instead of the data."""

    inner: Callable[..., Any]
    decide: Callable[[Sequence[Event]], Mapping[str, Any] | None] | None
    passes_rng: bool

    def __call__(self, store: Any, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None, *,
                 clock: Any, rng: Any = None) -> Any:
        decide = self.decide if self.decide is not None else _Accepting(data)
        if self.passes_rng:
            return self.inner(store, actor_id, event_type, decide, clock=clock, rng=rng)
        return self.inner(store, actor_id, event_type, decide, clock=clock)

    def close(self) -> None:
        """Close the wrapped pattern if it has background work (a queue drains); nothing otherwise."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


@dataclass(frozen=True)
class _Accepting:
    data: Mapping[str, Any] | None

    def __call__(self, events: Sequence[Event]) -> dict[str, Any]:
        return _accept(self.data, events)


@dataclass(frozen=True)
class Decided:
    """*pattern* saving each write as a command: ``decide(events)`` on a fresh read instead of blind data.

    * ``pattern``: a pattern function (a partial is fine) or a policy with shared
      state (a breaker, a budget, a queue), bound to each run as usual; the run's
      state stays readable on the wrapped policy (``policy.breakers[-1]``);
    * ``decide``: the decision, ``decide(events) -> mapping | None``; by default
      :func:`add_line`, which never refuses; ``None`` appends the writer's own data
      whatever the events say (also a command that never refuses, such as "log this entry");
    * ``label``: the name tables and figures show (default: the pattern's).

    Each save keeps the one idempotency key the pattern gives it for all its attempts.
    """

    pattern: Any
    decide: Callable[[Sequence[Event]], Mapping[str, Any] | None] | None = add_line
    label: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.pattern, type) or not (callable(self.pattern) or is_bindable(self.pattern)):
            raise TypeError(f"Decided.pattern must be a pattern function or a policy instance; got {self.pattern!r}")
        pattern_name(self.pattern)  # a TypeError naming the value if it is no pattern
        if self.decide is not None:
            check_callable("Decided.decide", self.decide, "decide(events) -> Mapping | None")
        if self.label is not None:
            check_text("Decided.label", self.label)

    @property
    def name(self) -> str:
        """The label, or the wrapped pattern's name."""
        return self.label if self.label is not None else pattern_name(self.pattern)

    def bind(self, ctx: RunContext) -> _DecidingCall:
        """The writers' callable for one run: the pattern (bound first if it shares state) with the decision."""
        inner = self.pattern
        if is_bindable(inner) and not inspect.isfunction(inner) and hasattr(inner, "bind"):
            inner = inner.bind(ctx)
        return _DecidingCall(inner, self.decide, accepts_rng(inner))


def decided(pattern: Any, decide: Callable[[Sequence[Event]], Mapping[str, Any] | None] | None = add_line, *,
            label: str | None = None) -> Decided:
    """*pattern* saving through a decision (see :class:`Decided`)."""
    return Decided(pattern, decide, label)
