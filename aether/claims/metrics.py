"""Metrics a claim compares: functions of one run's :class:`~aether.experiment.RunResult`, named.

They are chosen not to flatter:

* latency percentiles are over **every** save by default (a save that gave up
  waited too); :func:`committed_latency` is labelled "committed only";
* recovery is **sustained** recovery (:func:`sustained_recovery_time`): goodput
  back near the offered load from a time to the end of a run that goes on well
  past it, never the first moment it touched the line; and "not recovered" is
  only ever "not within T seconds" (:func:`recovered_within`), with T stated.

Each helper returns a :class:`Metric` (a name, a unit and a picklable function),
so a claim can be checked in worker processes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from aether.checks import check_callable, check_number, check_seconds, check_text

__all__ = [
    "Metric",
    "beyond_light_share",
    "time_to_commit",
    "calls_per_save",
    "committed_latency",
    "committed_share",
    "every_save_latency",
    "gave_up_share",
    "makespan",
    "recovered_within",
    "sustained_recovery",
    "sustained_recovery_time",
    "work",
    "writes_per_save",
]


@dataclass(frozen=True)
class Metric:
    """A named number computed from one run: what a claim compares.

    ``fn(result)`` returns a float; ``unit`` is ``"s"``, ``"%"`` (a share, shown
    as a percentage), or a word ("writes"). Use the helpers of this module, or
    build one from any picklable function of a run (a module-level function or a
    :func:`functools.partial` of one, so that ``--jobs`` can send it to workers).
    """

    name: str
    fn: Callable[[Any], float]
    unit: str = ""

    def __post_init__(self) -> None:
        check_text("Metric.name", self.name)
        check_callable("Metric.fn", self.fn, "a function of a RunResult")

    def __call__(self, result: Any) -> float:
        """The metric of one run, as a float (NaN if the run has no value for it)."""
        return float(self.fn(result))

    def format(self, value: float) -> str:
        """*value* with its unit, three significant digits ("1.23 s", "97.5%", "412 writes")."""
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "never" if self.unit == "s" else ("inf" if value > 0 else "-inf")
        if self.unit == "%":
            return f"{100 * value:.3g}%"
        if self.unit == "s":
            return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
        return f"{value:.4g}" + (f" {self.unit}" if self.unit else "")


def _summary(result: Any, field: str) -> float:
    return float(getattr(result.summary(), field))


def _writes_per_save(result: Any) -> float:
    s = result.summary()
    return s.write_calls / s.saves if s.saves else math.nan


def _calls_per_save(result: Any) -> float:
    s = result.summary()
    return s.calls / s.saves if s.saves else math.nan


def _share(result: Any, outcome: str) -> float:
    outcomes = result.saves["outcome"]
    return float((outcomes == outcome).mean()) if len(outcomes) else math.nan


def _latency(result: Any, q: float, committed_only: bool) -> float:
    saves = result.saves
    if committed_only:
        saves = saves[saves["outcome"] == "committed"]
    values = saves["latency"].to_numpy(dtype=float)
    return float(np.percentile(values, 100 * q)) if len(values) else math.nan


def work() -> Metric:
    """Store writes (``save_event`` calls) of the run: the work a pattern asks of the store."""
    return Metric("store writes", functools.partial(_summary, field="write_calls"), "writes")


def writes_per_save() -> Metric:
    """Store writes per logical save."""
    return Metric("writes per save", _writes_per_save)


def calls_per_save() -> Metric:
    """Store calls (reads and writes) per logical save."""
    return Metric("calls per save", _calls_per_save)


def makespan() -> Metric:
    """Seconds from the run's start until its last save finished (or, deferred, was stored)."""
    return Metric("completion time", functools.partial(_summary, field="makespan"), "s")


def committed_share() -> Metric:
    """The share of logical saves that were committed (0-1, shown as %)."""
    return Metric("committed", functools.partial(_share, outcome="committed"), "%")


def gave_up_share() -> Metric:
    """The share of logical saves that gave up (0-1, shown as %)."""
    return Metric("gave up", functools.partial(_share, outcome="gave_up"), "%")


def _beyond_light(result: Any, light_up_to: int) -> float:
    calls = result.calls
    conflicts = calls[(calls["op"] == "save_event") & (calls["result"] == "conflict")]
    if not len(conflicts):
        return 0.0
    distance = conflicts["current_version"] - conflicts["attempted_version"] + 1
    return float((distance > light_up_to).mean())


def beyond_light_share(light_up_to: int = 2) -> Metric:
    """The share of conflicts whose distance is above *light_up_to* (0-1, shown as %; 0 for a run without any).

    A conflict's distance is ``current_version - attempted_version + 1``: the commits that
    landed between the writer's read and its save. Adaptive retry (chapter 04) waits longer
    than its light tier only for a conflict above it, so this is how often its signal acts.
    """
    if isinstance(light_up_to, bool) or not isinstance(light_up_to, int):
        raise TypeError(f"light_up_to must be an int; got {light_up_to!r} ({type(light_up_to).__name__})")
    if light_up_to < 0:
        raise ValueError(f"light_up_to must be >= 0; got {light_up_to!r}")
    return Metric(f"conflicts beyond distance {light_up_to}",
                  functools.partial(_beyond_light, light_up_to=light_up_to), "%")


def every_save_latency(q: float = 0.95) -> Metric:
    """The *q*-quantile of the latency of every save, committed or not (what every caller waited)."""
    q = check_number("q", q, minimum=0.0, maximum=1.0)
    return Metric(f"p{100 * q:g} latency of every save", functools.partial(_latency, q=q, committed_only=False), "s")


def _time_to_commit(result: Any, q: float) -> float:
    delays = result.saves["commit_delay"].to_numpy(dtype=float)
    if not len(delays):
        return math.nan
    delays = np.where(np.isnan(delays), np.inf, delays)  # a save never stored never commits
    return float(np.quantile(delays, q, method="higher"))


def time_to_commit(q: float = 0.5) -> Metric:
    """The *q*-quantile of every save's time to commit: start to commit, ``inf`` for a save never stored.

    For a direct pattern it is the committed save's latency; for a queue (chapter 05) it is
    enqueue to commit, while the caller's latency is the time to get its ticket. The
    quantile is an observed value (``method="higher"``), so a quantile that falls on a lost
    save is ``inf`` ("never"), not a number between.
    """
    q = check_number("q", q, minimum=0.0, maximum=1.0)
    return Metric(f"p{100 * q:g} time to commit of every save", functools.partial(_time_to_commit, q=q), "s")


def committed_latency(q: float = 0.95) -> Metric:
    """The *q*-quantile of the latency of committed saves only, labelled as such (it hides give-ups)."""
    q = check_number("q", q, minimum=0.0, maximum=1.0)
    return Metric(f"p{100 * q:g} latency, committed saves only",
                  functools.partial(_latency, q=q, committed_only=True), "s")


def sustained_recovery_time(result: Any, after: float, *, level: float = 0.8, window: float = 2.0,
                            bin: float = 0.25, tail: float = 5.0) -> float:  # noqa: A002
    """Seconds from *after* until goodput is back **for good**, or ``inf``.

    For an open-loop run (:func:`~aether.experiment.run_load`). Goodput is back
    at time *t* when, over every *window* seconds from *t* until arrivals stop,
    the saves whose callers were told of success are at least *level* x the saves
    that arrived in that window, and some save succeeded in the first *bin* from
    *t* (a window that starts with nothing committed can still keep up on a
    backlog flushed later in it; that start is not a recovery yet). The first
    such *t* at or after *after* counts only if arrivals go on for at least
    *tail* seconds after it; otherwise the run is too short to say, and the
    answer is ``inf``. A backlog flushed after a fault, followed by a collapse,
    is therefore not a recovery either.
    """
    after = check_seconds("after", after)
    level = check_number("level", level, above=0.0, maximum=1.0)
    window = check_seconds("window", window, positive=True)
    width = check_seconds("bin", bin, positive=True)
    tail = check_seconds("tail", tail)
    duration = result.settings.get("duration")
    if result.settings.get("workload") != "open" or duration is None:
        raise ValueError("sustained_recovery_time needs an open-loop run (run_load); got a closed-loop run")
    timeline = result.timeline(width)
    starts = timeline["start"].to_numpy()
    offered = timeline["offered"].to_numpy() * width
    good = timeline["goodput"].to_numpy() * width
    k = max(1, round(window / width))
    inside = np.flatnonzero((starts >= after - 1e-9) & (starts + width <= duration + 1e-9))
    if len(inside) < k:
        return math.inf
    first, last = inside[0], inside[-1]
    # ok[i]: the window of k bins starting at bin i kept up with what arrived in it
    ok = [good[i:i + k].sum() >= level * offered[i:i + k].sum() for i in range(first, last - k + 2)]
    recovered = None
    for j in range(len(ok) - 1, -1, -1):  # the earliest start from which every window is fine
        if not ok[j]:
            break
        recovered = j
    if recovered is None:
        return math.inf
    while first + recovered <= last and good[first + recovered] == 0:  # nothing committed yet
        recovered += 1
    if first + recovered > last:
        return math.inf
    t = float(starts[first + recovered])
    if duration - t < tail - 1e-9:
        return math.inf
    return t - after


def sustained_recovery(after: float, *, level: float = 0.8, window: float = 2.0, tail: float = 5.0) -> Metric:
    """:func:`sustained_recovery_time` as a metric (seconds; ``inf``: not recovered with *tail* s to spare)."""
    after = check_seconds("after", after)
    return Metric(f"sustained recovery after {after:g} s",
                  functools.partial(sustained_recovery_time, after=after, level=level, window=window, tail=tail), "s")


def _recovered_within(result: Any, after: float, within: float, level: float, window: float, tail: float) -> float:
    duration = result.settings.get("duration")
    if duration is not None and duration < after + within + tail:
        raise ValueError(f"the run is too short to tell recovery within {within:g} s: arrivals must last at least "
                         f"after + within + tail = {after + within + tail:g} s; got duration={duration!r}")
    took = sustained_recovery_time(result, after, level=level, window=window, tail=tail)
    return 1.0 if took <= within else 0.0


def recovered_within(after: float, within: float, *, level: float = 0.8, window: float = 2.0,
                     tail: float = 5.0) -> Metric:
    """1 if goodput was back for good within *within* seconds of *after*, else 0.

    This is the only honest form of "never recovers": "not recovered within T
    s". The run must go on for *tail* seconds after ``after + within``
    (a :class:`ValueError` otherwise), so a short run cannot make the claim.
    """
    after = check_seconds("after", after)
    within = check_seconds("within", within)
    return Metric(f"recovered for good within {within:g} s of {after:g} s",
                  functools.partial(_recovered_within, after=after, within=within, level=level, window=window,
                                    tail=tail))
