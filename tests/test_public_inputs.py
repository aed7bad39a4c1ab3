"""Every public entry point, every parameter, every kind of bad value: a clear error, or a stated reason.

The table is built from the public signatures, so a new entry point or a new
parameter is covered the day it appears (an entry point without a baseline
call fails :func:`test_every_public_entry_point_has_a_baseline_or_a_reason`).
For each parameter of each constructor and function exported by ``aether``,
``aether.experiment``, ``aether.patterns``, ``aether.calibrate`` and ``aether.store``
(``__all__`` and, for a package, its ``from x import Y as Y`` re-exports), the call
is made with valid baseline arguments and that one parameter replaced by a
bad value: a wrong type, NaN, +-inf, a negative number, zero, a huge number
(``10**400``, ``2**63``), an empty string, a bool for a number, ``None``, a
class where an instance is expected, a list that contains itself, a callable
that raises, an object whose ``repr`` raises.

What each case must do depends on the parameter's annotation:

* a value of the wrong type is a :class:`TypeError`;
* a value of the right type outside the domain (NaN, a negative duration) is
  a :class:`ValueError`, or is accepted for a reason stated in :data:`ACCEPTED`;
* the message names the parameter and shows the value, in at most
  :data:`MAX_MESSAGE` characters;
* the store the call was given is unchanged;
* the call answers within :data:`BOUND` seconds (a hang check, not a timing).

Cases that fail and cannot be fixed yet would be listed in :data:`KNOWN` with
their reason (the list is empty); the test fails if one of them starts to pass
(so the list only shrinks) and prints the counts: cases, clear, accepted (with
why), known.
"""

from __future__ import annotations

import collections
import importlib
import inspect
import math
import random
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aether.checks import MAX_SHOWN

BOUND = 10.0  # seconds a case may take: a generous hang check, never a timing
MAX_MESSAGE = 2 * MAX_SHOWN + 600  # characters: two shown values and the words around them
NAMESPACES = ("aether", "aether.experiment", "aether.patterns", "aether.calibrate", "aether.store")


# --------------------------------------------------------------------------- the bad values


class Raised(Exception):
    """What the callable that raises raises: seeing it come out is the callable's own error."""


def raising(*args: object, **kwargs: object) -> Any:
    """A callable that raises whenever it is called."""
    raise Raised("called the callable that raises")


class BadRepr:
    """An object whose ``repr`` raises: a message built with ``!r`` would lose the real error."""

    def __repr__(self) -> str:
        raise RuntimeError("this repr raises")


def _self_containing() -> list[Any]:
    items: list[Any] = []
    items.append(items)
    return items


@dataclass(frozen=True)
class Bad:
    """One bad value: its label, how to make it, and text the message must show."""

    label: str
    make: Callable[[], Any]
    shown: str


def _the_class() -> type:
    from aether import InMemoryEventStore

    return InMemoryEventStore


VALUES = [
    Bad("str", lambda: "x", "'x'"),
    Bad("bytes", lambda: b"x", "b'x'"),
    Bad("float", lambda: 2.5, "2.5"),
    Bad("bool", lambda: True, "True"),
    Bad("None", lambda: None, "None"),
    Bad("object", object, "object"),
    Bad("class", _the_class, "InMemoryEventStore"),
    Bad("self-referential list", _self_containing, "[[...]]"),
    Bad("callable that raises", lambda: raising, "raising"),
    Bad("repr raises", BadRepr, "BadRepr"),
    Bad("nan", lambda: math.nan, "nan"),
    Bad("inf", lambda: math.inf, "inf"),
    Bad("-inf", lambda: -math.inf, "-inf"),
    Bad("negative", lambda: -1, "-1"),
    Bad("zero", lambda: 0, "0"),
    Bad("10**400", lambda: 10**400, "10000000000"),
    Bad("2**63", lambda: 2**63, "92233720368"),
    Bad("empty str", lambda: "", "''"),
]


# --------------------------------------------------------------------------- what a parameter accepts

TYPE, VALUE, EITHER, MAYBE, SKIP, CALLED = "TypeError", "ValueError", "either", "maybe", "skip", "called"

_CONTAINER = re.compile(r"^(Sequence|Iterable|Mapping|list|tuple|dict|Counter|Collection)\b")
_CHOICES = {"ClockKind", "Jitter", "ThrashingKind"}  # Literal aliases of str choices
_NUMBERS = ("nan", "inf", "-inf", "negative", "zero", "10**400", "2**63")

#: The kind of a parameter whose annotation does not say enough (``Any``, ``object``), by name.
KIND_BY_NAME = {
    "store": "instance", "result": "instance", "patterns": "container", "error": "instance",
    "exc": "exception", "pattern": "callable", "obj": "instance",
}


#: Parameters whose kind neither the annotation nor the name says: (entry point, parameter) -> kind.
KIND_BY_ENTRY = {
    # a run's store: "memory", "sqlite" (a misspelt name is a wrong value), an EventStore or a factory
    **dict.fromkeys([("run_contention", "store"), ("run_load", "store"), ("RunSpec", "store")], "store setting"),
    # a sweep's patterns: a mapping or a list of them, or one pattern (a callable) on its own
    **dict.fromkeys([("sweep", "patterns"), ("sweep_load", "patterns")], "patterns"),
}
#: Type aliases that include ``None`` (``Command``: a decision, a mapping or ``None``).
OPTIONAL_ALIASES = {"Command"}


def kind_of(name: str, annotation: str, entry: str = "") -> str:
    """One of int, float, str, choice, bool, callable, container, instance, exception, store setting, any."""
    if (entry, name) in KIND_BY_ENTRY:
        return KIND_BY_ENTRY[(entry, name)]
    text = annotation.replace("'", "").strip()
    if text in ("Any", "object", ""):
        return KIND_BY_NAME.get(name, "any")
    parts = [p.strip() for p in text.split("|") if p.strip() != "None"]
    first = parts[0] if parts else ""
    if "Callable" in text or first in ("Pattern", "Measure", "Command", "Decide") or name in ("pattern", "timer"):
        return "callable"
    if _CONTAINER.match(first):
        return "container"
    if first in _CHOICES:
        return "choice"
    if first == "bool":
        return "bool"
    if first == "int":
        return "int"
    if first == "float":
        return "float"
    if first == "str":
        return "str"
    if "BaseException" in text:
        return "exception"
    return "instance"


def expectation(kind: str, optional: bool, bad: Bad) -> str:
    """What a bad value must give for a parameter of *kind*: TYPE, VALUE, EITHER, MAYBE, SKIP or CALLED.

    MAYBE: a :class:`ValueError`, or accepted for a reason in :data:`ACCEPTED`.
    CALLED: the callable that raises may be called; its own error coming out is fine.
    """
    label = bad.label
    if label == "None" and optional:
        return SKIP
    if kind == "any":
        return MAYBE if label not in ("repr raises",) else EITHER
    if kind == "exception":
        return SKIP  # the error helpers take any object and answer False: asking is not misuse
    if kind == "store setting":
        if label in ("str", "empty str"):
            return VALUE
        return {"class": EITHER, "callable that raises": CALLED}.get(label, TYPE)
    if kind == "patterns":
        kind = "callable" if label == "callable that raises" else "container"
    if label == "callable that raises":
        return CALLED if kind == "callable" else TYPE
    if kind == "int":
        return MAYBE if label in ("negative", "zero", "10**400", "2**63") else TYPE
    if kind == "float":
        if label == "float":
            return SKIP
        return (VALUE if label in ("nan", "-inf") else MAYBE) if label in _NUMBERS else TYPE
    if kind in ("str", "choice"):
        if label == "str":
            return SKIP if kind == "str" else VALUE
        return MAYBE if label == "empty str" else TYPE
    if kind == "bool":
        return SKIP if label == "bool" else TYPE
    if kind == "callable":
        return EITHER if label == "class" else TYPE  # a class is callable: it may be a fine factory
    if kind == "container":
        return EITHER if label in ("str", "bytes", "self-referential list", "empty str") else TYPE
    return TYPE  # an instance of some class: anything else is the wrong type


# --------------------------------------------------------------------------- the entry points and their baselines


def _store() -> Any:
    from aether import InMemoryEventStore

    return InMemoryEventStore()


def _clock() -> Any:
    from aether import SimulatedClock

    return SimulatedClock()


def _run() -> Any:
    from aether.experiment import run_load
    from aether.patterns import simple_retry

    return run_load(simple_retry, rate=5.0, duration=1.0, network=None)


def _reference() -> dict[str, Any]:
    from aether.calibrate import reference_calibration

    ref = reference_calibration()
    return {name: getattr(ref, name) for name in ref.__dataclass_fields__}


def _simple() -> Any:
    from aether.patterns import simple_retry

    return simple_retry


def _pattern_call(**extra: Callable[[], Any]) -> dict[str, Callable[[], Any]]:
    return {"store": _store, "actor_id": lambda: "a", "event_type": lambda: "T", "clock": _clock, **extra}


def _throttle() -> Any:
    from aether.patterns import ClientThrottle

    return ClientThrottle(clock=_clock())


def _budget() -> Any:
    from aether.patterns import RetryBudget

    return RetryBudget()


def _breaker() -> Any:
    from aether.patterns import CircuitBreaker

    return CircuitBreaker(clock=_clock())


def _network() -> Any:
    from aether.experiment import NetworkModel

    return NetworkModel()


def _quantiles() -> Any:
    from aether.calibrate import Quantiles

    return Quantiles((0.001, 0.002))


def _scenario() -> Any:
    from aether.experiment import Scenario

    return [Scenario("tiny", {"rate": 5.0, "duration": 1.0, "network": None})]


def _call_log() -> Any:
    from aether.experiment.recorder import CallLog

    return CallLog()


#: Valid arguments for each entry point: the required ones, and settings that keep a call short.
#: Each value is a factory, called inside the case (simulated clocks belong to the thread that runs them).
BASELINES: dict[str, dict[str, Callable[[], Any]]] = {
    "Event": {"actor_id": lambda: "a", "event_type": lambda: "T", "version": lambda: 1},
    "FrozenData": {},
    "InMemoryEventStore": {},
    "RealClock": {},
    "SQLiteEventStore": {"path": lambda: str(_TMP / "store.db")},
    "SimulatedClock": {},
    "as_version_conflict": {"exc": lambda: None},
    "is_version_conflict": {"exc": lambda: None},
    "iter_exception_chain": {"exc": lambda: None},
    "pattern_name": {"pattern": _simple},
    "deadline_scope": {"deadline_at": lambda: 1.0},
    # aether.experiment
    "AbsNormal": {},
    "Capacity": {"service": lambda: _delay(0.001)},
    "Scaled": {"delay": lambda: _delay(0.001), "factor": lambda: 2.0},
    "StoreProfile": {"name": lambda: "test store", "read": lambda: _delay(0.001), "write": lambda: _delay(0.002),
                     "source": lambda: "made up for the table"},
    "profile": {"name": lambda: "laptop-sqlite"},
    "measure_fsync": {"samples": lambda: 10, "path": lambda: str(_TMP)},
    "Constant": {"seconds": lambda: 0.001},
    "Exponential": {"mean_seconds": lambda: 0.001},
    "LatencySpike": {"start": lambda: 0.0, "end": lambda: 1.0, "extra": lambda: 0.01},
    "NetworkModel": {},
    "NetworkStore": {"store": _store, "model": _network, "clock": _clock, "rng": lambda: random.Random(0)},
    "Outage": {"start": lambda: 0.0, "end": lambda: 1.0},
    "Ramp": {"start_rate": lambda: 1.0, "end_rate": lambda: 2.0, "start": lambda: 0.0, "end": lambda: 1.0},
    "RecordingStore": {"store": _store, "clock": _clock, "writer": lambda: 0, "records": _call_log},
    "Scenario": {"name": lambda: "s", "settings": lambda: {"rate": 5.0, "duration": 1.0}},
    "Slowdown": {"start": lambda: 0.0, "end": lambda: 1.0, "factor": lambda: 2.0},
    "Step": {"steps": lambda: [(0.0, 1.0)]},
    "Uniform": {"low": lambda: 0.001, "high": lambda: 0.002},
    "compare": {"patterns": lambda: {"simple": _simple()}, "scenarios": _scenario, "seeds": lambda: (0,)},
    "complexity": {"pattern": _simple},
    "guard_blocking_sleeps": {"clock": _clock, "label": lambda: "run"},
    "is_library_give_up": {"error": lambda: ValueError("x")},
    "measure_run": {"result": _run},
    "run_contention": {"pattern": _simple, "writers": lambda: 2, "network": lambda: None, "store": _store},
    "run_load": {"pattern": _simple, "rate": lambda: 5.0, "duration": lambda: 1.0, "network": lambda: None,
                 "store": _store},
    "sweep": {"patterns": _simple, "writers": lambda: [2], "seeds": lambda: [0]},
    "sweep_load": {"patterns": _simple, "rates": lambda: [5.0], "seeds": lambda: [0], "duration": lambda: 1.0},
    "verify_store": {"store": _store, "committed": list, "baseline": dict, "actors": list},
    "ClosedLoop": {"writers": lambda: 2},
    "OpenLoop": {"rate": lambda: 5.0, "duration": lambda: 1.0},
    "RunSpec": {"pattern": _simple, "workload": lambda: _closed(), "network": lambda: None},
    "run_spec": {"spec": lambda: _spec()},
    "TimeWindow": {"start": lambda: 0.0, "end": lambda: 1.0},
    "outcome_of": {"error": lambda: ValueError("x")},
    # aether.patterns
    "AdaptivePolicy": {},
    "AdaptiveThrottlingPolicy": {},
    "Backoff": {"base_delay": lambda: 0.01, "max_delay": lambda: 1.0},
    "CircuitBreaker": {"clock": _clock},
    "CircuitBreakerPolicy": {},
    "ClientThrottle": {"clock": _clock},
    "DurableOutbox": {"path": lambda: str(_TMP / "outbox.db"), "store": _store, "clock": _clock,
                      "synchronous": lambda: "NORMAL"},
    "QueuedWrites": {},
    "LogicalSave": {"store": _store, "actor_id": lambda: "a", "event_type": lambda: "T", "data": lambda: {},
                    "clock": _clock},
    "SharedStatePolicy": {},
    "is_decision": {"data": lambda: {}},
    "outcome_unknown": {"error": lambda: ValueError("x")},
    "RetryBudget": {},
    "RetryBudgetPolicy": {},
    "RetryQueue": {"store": _store, "clock": _clock},
    "ThrashingPolicy": {},
    "adaptive_delay": {"distance": lambda: 1, "attempt": lambda: 1},
    "adaptive_retry": _pattern_call(),
    "adaptive_throttling": _pattern_call(throttle=_throttle),
    "budgeted_retry": _pattern_call(budget=_budget),
    "circuit_breaker_retry": _pattern_call(breaker=_breaker),
    "conflict_detailed_retry": _pattern_call(),
    "decorrelated_jitter": {"previous": lambda: 0.01, "base": lambda: 0.01, "cap": lambda: 1.0,
                            "rng": lambda: random.Random(0)},
    "equal_jitter": {"v": lambda: 0.01, "rng": lambda: random.Random(0)},
    "full_jitter": {"v": lambda: 0.01, "rng": lambda: random.Random(0)},
    "immediate_retry": _pattern_call(),
    "jitter_retry": _pattern_call(rng=lambda: random.Random(0)),
    "no_jitter": {"v": lambda: 0.01, "rng": lambda: random.Random(0)},
    "no_retry": _pattern_call(),
    "retry_on_failure": _pattern_call(rng=lambda: random.Random(0)),
    "simple_retry": _pattern_call(),
    "store_unavailable": {"error": lambda: ValueError("x")},
    "store_unavailable_or_conflict": {"error": lambda: ValueError("x")},
    "lost_writes": {},
    "unsaved_writes": {},
    # aether.calibrate
    "BusyPolls": {"timeout": lambda: 1.0},
    "Calibration": {},  # filled from the reference calibration below
    "Quantiles": {"values": lambda: (0.001, 0.002)},
    "busy_poll_times": {},
    "calibrate": {"samples": lambda: 5, "seconds": lambda: 0.01, "start_writers": lambda: 2},
    "measure_service": {"store": _store, "samples": lambda: 2},
    "next_busy_poll": {"held": lambda: 0.002},
    "reference_calibration": {},
    "writers_at_once": {"lone": lambda: 1.0, "together": lambda: [1.0]},
    # aether.store (the arguments PostgreSQL checks before it connects: see NEEDS_A_SERVER)
    "PostgresEventStore": {"conninfo": lambda: "host=127.0.0.1 port=1 dbname=aether connect_timeout=1",
                           "connect_timeout": lambda: 0.5},
}
for _name in ("read", "write", "conflict", "write_fsync", "writers_at_once", "concurrent_writers", "lock_waits",
              "sleep_overshoot", "probe_sleep", "start_skew", "start_skew_threads", "start_writers", "machine"):
    BASELINES["Calibration"][_name] = (lambda n: lambda: _reference()[n])(_name)


def _closed() -> Any:
    from aether.experiment import ClosedLoop

    return ClosedLoop(2)


def _spec() -> Any:
    from aether.experiment import RunSpec

    return RunSpec(pattern=_simple(), workload=_closed(), network=None, store=_store())


def _delay(seconds: float) -> Any:
    from aether.experiment import Constant

    return Constant(seconds)


#: Exported names that are not entry points this table can call with bad values, and why.
NOT_ENTRY_POINTS = {
    # protocols: nothing to construct
    **dict.fromkeys(("Bindable", "Clock", "Deferred", "EventStore", "Pattern", "Signal", "Task", "TaskClock",
                     "Delay"), "a protocol, not a constructor"),
    # records the package builds for its callers (results, rows, receipts): their fields are not checked
    **dict.fromkeys(("CallRecord", "SaveRow", "StationRecord", "RunResult", "RunSummary", "OutboxEntry",
                     "OutboxTicket", "Ticket", "Transition", "WorkerFailure", "ThrashingVerdict", "ConflictRecord",
                     "BlockingSleeps", "RunContext", "LostWrites", "BreakerState"),
                    "a record or receipt the package builds for its callers, not an input"),
}
#: Figures and display helpers: exported by ``aether`` (loaded on first use), checked in their own suites.
FIGURE_MODULES = ("aether.plots", "aether.display")

def _no_server() -> type[BaseException]:
    from aether import StoreUnavailableError

    return StoreUnavailableError


#: Entry points whose baseline cannot finish on a machine without a server: reaching the
#: connection (this error) means every argument passed its checks, the same as success.
NEEDS_A_SERVER: dict[str, Callable[[], type[BaseException]]] = {"PostgresEventStore": _no_server}


def passed_the_checks(entry: str, error: BaseException | None) -> bool:
    """True when the call succeeded, or failed only for want of the server it needs."""
    return error is None or (entry in NEEDS_A_SERVER and isinstance(error, NEEDS_A_SERVER[entry]()))


_TMP = Path(".")  # set per test to a fresh folder (see the fixture)


def exported_names(module: Any) -> list[str]:
    """``__all__``, and for a package also the names it re-exports (``from x import Y as Y``)."""
    names = list(getattr(module, "__all__", ()))
    if hasattr(module, "__path__"):
        for name, obj in vars(module).items():
            if (not name.startswith("_") and not inspect.ismodule(obj) and name not in names
                    and str(getattr(obj, "__module__", "")).startswith("aether")):
                names.append(name)
    return names


def public_entry_points() -> dict[str, Callable[..., Any]]:
    """Every exported constructor and function of the namespaces, by name.

    Type aliases (``Decide``, ``Command``) are callable objects of ``typing`` but
    neither classes nor functions: they are annotations, not entry points.
    """
    found: dict[str, Callable[..., Any]] = {}
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        for name in exported_names(module):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            if getattr(obj, "__module__", "").startswith(FIGURE_MODULES):
                continue
            found.setdefault(name, obj)
    return found


# --------------------------------------------------------------------------- running one case


@dataclass
class Outcome:
    """What one case did."""

    entry: str
    param: str
    value: str
    expected: str
    verdict: str  # "clear", "accepted", "called", or what was wrong
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.entry, self.param, self.value)


def _call(fn: Callable[..., Any], params: list[inspect.Parameter], arguments: dict[str, Any]) -> Any:
    args = [arguments.pop(p.name) for p in params if p.kind is p.POSITIONAL_ONLY and p.name in arguments]
    return fn(*args, **arguments)


def _store_state(arguments: dict[str, Any]) -> list[tuple[str, int]]:
    store = arguments.get("store")
    if store is None or not hasattr(store, "actor_ids") or isinstance(store, type):
        return []
    try:
        return [(actor, store.get_latest_version(actor)) for actor in store.actor_ids()]
    except Exception:  # noqa: BLE001 - a store the case itself made unusable has no state to compare
        return []


def run_case(entry: str, fn: Callable[..., Any], param: inspect.Parameter, params: list[inspect.Parameter],
             bad: Bad, expected: str) -> Outcome:
    """Call *fn* with its baseline and *param* replaced by *bad*; judge what happened."""
    box: dict[str, Any] = {}

    def case() -> None:
        # A run whose pattern is the callable that raises makes the harness warn that saves failed
        # with an unexpected error: that is the case's point, so the warning is recorded, not shown.
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            run()

    def run() -> None:
        try:
            arguments = {name: make() for name, make in BASELINES[entry].items()}
            value = bad.make()
            arguments[param.name] = value
            box["before"] = _store_state(arguments)
            box["arguments"] = arguments
            box["result"] = _call(fn, params, dict(arguments))
        except BaseException as error:  # noqa: BLE001 - judged below
            box["error"] = error

    thread = threading.Thread(target=case, daemon=True, name=f"case {entry}.{param.name}={bad.label}")
    thread.start()
    thread.join(BOUND)
    out = Outcome(entry, param.name, bad.label, expected, "clear")
    if thread.is_alive():
        out.verdict, out.detail = "no answer", f"still running after {BOUND:g} s"
        return out
    error = box.get("error")
    if passed_the_checks(entry, error):
        out.verdict = "accepted"
        return out
    if isinstance(error, Raised) and expected == CALLED:
        out.verdict = "called"
        return out
    message = str(error)
    got = type(error)
    wanted = {TYPE: (TypeError,), VALUE: (ValueError,), MAYBE: (ValueError,), CALLED: (TypeError, ValueError),
              EITHER: (TypeError, ValueError)}[expected]
    if not issubclass(got, wanted) or (expected == TYPE and issubclass(got, ValueError)):
        out.verdict, out.detail = "wrong error", f"{got.__name__}: {message[:200]}"
    elif len(message) > MAX_MESSAGE:
        out.verdict, out.detail = "long message", f"{len(message):,} characters"
    elif param.name not in message:
        out.verdict, out.detail = "parameter not named", message[:200]
    elif bad.shown not in message:
        out.verdict, out.detail = "value not shown", message[:200]
    elif "arguments" in box and _store_state(box["arguments"]) != box["before"]:
        out.verdict, out.detail = "store changed", message[:200]
    return out


# --------------------------------------------------------------------------- decisions


#: Bad values accepted on purpose: (entry or "*", parameter, value label or "*") -> why.
ACCEPTED: dict[tuple[str, str, str], str] = {
    ("StoreProfile", "path", "empty str"): "the default: a profile that was never re-routed has no path to show",
    ("*", "seed", "*"): "any int seeds random.Random, negative and huge ones included",
    **dict.fromkeys([("*", "max_attempts", "10**400"), ("*", "max_attempts", "2**63")],
                    "an attempt limit no run reaches: retry until it succeeds "
                    "(a simulated run still ends at its clock's horizon)"),
    ("*", "origin", "negative"): "a clock reading: clocks may start anywhere",
    ("*", "start", "negative"): "a clock reading: clocks may start anywhere",
    ("*", "writer", "negative"): "negative writer numbers are the background workers' (a queue's)",
    ("*", "writer", "zero"): "writer 0 is the first writer",
    ("*", "writer", "10**400"): "a writer number is a label",
    ("*", "writer", "2**63"): "a writer number is a label",
    ("*", "description", "empty str"): "a description may be empty",
    ("*", "label", "empty str"): "a label may be empty",
    ("*", "base_delay", "zero"): "no wait before the first retry is a valid (if aggressive) setting",
    ("*", "threshold", "*"): "a budget threshold may be any finite number, negative included",
    ("*", "success_refund", "zero"): "a budget that refunds nothing is a valid setting",
    ("*", "think_time", "*"): "see the value's own type (a Delay)",
    ("*", "start_spread", "zero"): "all writers start at once: the default",
    ("*", "busy_timeout", "zero"): "no wait for a lock: fail at once when it is taken, a valid choice",
    ("*", "start", "zero"): "a clock that starts at zero: the default",
    ("busy_poll_times", "timeout", "zero"): "a busy timeout of zero: one attempt only",
    ("next_busy_poll", "timeout", "zero"): "a busy timeout of zero: one attempt only",
    ("BusyPolls", "timeout", "zero"): "a busy timeout of zero: one attempt only",
    ("next_busy_poll", "held", "zero"): "a lock that is already free: the first attempt gets it",
    ("Calibration", "start_skew", "zero"): "a measured spread may be zero",
    ("Calibration", "start_skew_threads", "zero"): "a measured spread may be zero",
    ("Calibration", "writers_at_once", "2**63"): "a measured ratio of commit rates: any finite positive number",
    ("writers_at_once", "lone", "2**63"): "a commit rate: any finite positive number",
    ("*", "exc", "*"): "asking whether any object is a conflict answers False",
    ("*", "on_conflict", "class"): "a class is a callable: it is called only when a conflict happens",
    ("*", "on_thrashing", "class"): "a class is a callable: it is called only when thrashing is detected",
    ("*", "on_transition", "class"): "a class is a callable: it is called only on a transition",
    ("*", "counts_as_failure", "class"): "a class is a callable: it is called only on a failure",
    ("*", "error", "*"): "asking whether any object is an outage answers False",
    ("Event", "version", "2**63"): "a version beyond what SQLite stores is refused by that store "
                                    "(VersionOutOfRangeError), not by the event",
    ("Event", "version", "10**400"): "a version beyond what SQLite stores is refused by that store "
                                      "(VersionOutOfRangeError), not by the event",
    # zero delays and costs: instant, free or aggressive, but meaningful settings
    **dict.fromkeys([("AbsNormal", "mu", "zero"), ("AbsNormal", "sigma", "zero"), ("Constant", "seconds", "zero"),
                     ("Exponential", "mean_seconds", "zero"), ("Uniform", "low", "zero"),
                     ("LatencySpike", "extra", "zero"), ("AdaptivePolicy", "light_delay", "zero"),
                     ("AdaptivePolicy", "per_version", "zero"), ("retry_on_failure", "max_delay", "zero")],
                    "a delay of zero: no wait, a meaningful setting"),
    **dict.fromkeys([(entry, param, "zero") for entry in ("RetryBudget", "RetryBudgetPolicy")
                     for param in ("retry_cost", "unavailable_cost", "timeout_cost", "throttle_cost")],
                    "a retry that costs nothing: a budget that never runs out"),
    **dict.fromkeys([("CircuitBreaker", "reset_timeout", "zero"), ("CircuitBreakerPolicy", "reset_timeout", "zero")],
                    "a breaker that probes again at once"),
    ("Capacity", "queue_limit", "zero"): "a store that queues nothing: calls beyond its servers are refused",
    ("NetworkModel", "failure_rate", "zero"): "no failures: the default",
    ("Ramp", "start_rate", "zero"): "a ramp that starts from no arrivals",
    ("Ramp", "end_rate", "zero"): "a ramp down to no arrivals",
    # limits no run reaches: the thing they limit never happens
    **dict.fromkeys([(entry, param, value) for entry, param in (
        ("AdaptivePolicy", "moderate_up_to"), ("Capacity", "queue_limit"), ("CircuitBreaker", "failure_threshold"),
        ("CircuitBreaker", "half_open_max_calls"), ("CircuitBreakerPolicy", "failure_threshold"),
        ("CircuitBreakerPolicy", "half_open_max_calls"), ("ThrashingPolicy", "stuck_after"),
        ("ThrashingPolicy", "no_progress_window"), ("ThrashingPolicy", "give_up_distance"))
        for value in ("10**400", "2**63")], "a limit no run reaches: what it limits never happens"),
    **dict.fromkeys([("RetryBudget", "max_tokens", "2**63"), ("RetryBudgetPolicy", "max_tokens", "2**63"),
                     ("ClientThrottle", "k", "2**63"), ("AdaptiveThrottlingPolicy", "k", "2**63")],
                    "a budget or throttle so large it never refuses: the same as none"),
    ("adaptive_delay", "distance", "*"): "a distance is any int: negative when a writer skipped a version",
    ("measure_service", "samples", "10**400"): "",
    **dict.fromkeys([("*", "origin", "zero"), ("*", "origin", "2**63"), ("deadline_scope", "deadline_at", "negative"),
                     ("deadline_scope", "deadline_at", "zero"), ("deadline_scope", "deadline_at", "2**63")],
                    "a clock reading: clocks may start anywhere, and any finite time is one"),
    **dict.fromkeys([("RecordingStore", "records", "self-referential list"),
                     ("RecordingStore", "unacknowledged", "self-referential list")],
                    "a list the recorder appends to: what it already holds is the caller's"),
    **dict.fromkeys([("Ramp", "start_rate", "2**63"), ("Ramp", "end_rate", "2**63")],
                    "a rate schedule alone runs nothing: the run that uses it refuses more than "
                    "MAX_SAVES expected callers (OpenLoop, run_load)"),
    ("Slowdown", "factor", "2**63"): "a store slowed so far it serves nothing in the window: an outage by "
                                     "another name, and the run's virtual-time horizon still ends it",
    **dict.fromkeys([(entry, param, "2**63") for entry in ("RetryBudget", "RetryBudgetPolicy")
                     for param in ("retry_cost", "unavailable_cost", "timeout_cost", "throttle_cost")],
                    "a retry that costs more than the bucket holds: a budget that allows no retries"),
    **dict.fromkeys([("RetryBudget", "success_refund", "2**63"), ("RetryBudgetPolicy", "success_refund", "2**63")],
                    "a refund above the bucket's size refills it at once: the same as max_tokens"),
    **dict.fromkeys([("Scenario", "fault_end", "zero"), ("measure_run", "fault_end", "zero")],
                    "a fault that ends at the start: recovery is measured from the first second"),
    ("ThrashingPolicy", "no_progress_versions", "zero"): "a no-progress verdict only when the store did not "
                                                         "move at all over the window",
    ("adaptive_delay", "attempt", "zero"): "retries are counted from 0 here: retry 0 is the first",
    **dict.fromkeys([("adaptive_delay", "attempt", "10**400"), ("adaptive_delay", "attempt", "2**63")],
                    "a retry number beyond any run: the wait is at max_delay, computed without overflow"),
    ("*", "jobs", "negative"): "jobs=-1 is one process per core (joblib's convention)",
    ("complexity", "pattern", "class"): "a pattern that is a class (a retry queue): its source is counted",
    ("pattern_name", "pattern", "class"): "a class's name is its label (a pattern that is a class, a retry queue)",
    **dict.fromkeys([(entry, param, "zero") for entry, param in (
        ("decorrelated_jitter", "previous"), ("decorrelated_jitter", "base"), ("decorrelated_jitter", "cap"),
        ("equal_jitter", "v"), ("full_jitter", "v"), ("no_jitter", "v"))],
                    "a delay of zero: no wait, a meaningful setting"),
    **dict.fromkeys([(entry, "store", "class") for entry in ("run_contention", "run_load", "RunSpec")],
                    "a class is a zero-argument factory: the run makes its own store by calling it"),
    ("is_decision", "data", "*"): "asking whether any object is a decision answers False",
    ("PostgresEventStore", "deadline_clock", "class"): "a class is callable: it is called for the time only when "
                                                       "a save has a deadline",
}
ACCEPTED = {key: why for key, why in ACCEPTED.items() if why}  # an empty reason is no reason


CALLBACK_REASON = "a callable is called only when it is needed (then its own error comes out)"


def accepted_because(out: Outcome) -> str | None:
    for entry in (out.entry, "*"):
        for value in (out.value, "*"):
            why = ACCEPTED.get((entry, out.param, value))
            if why:
                return why
    return None


#: Cases that fail today and cannot be fixed yet, each with its reason: (entry point, parameter) -> the value
#: labels that fail, "|"-separated. Empty now: every entry point answers every bad value clearly or accepts it
#: for a reason in :data:`ACCEPTED`. It only shrinks: a case listed here that passes makes the test fail until
#: it is removed.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
KNOWN: set[tuple[str, str, str]] = {
    (entry, param, value) for (entry, param), values in KNOWN_FAILURES.items() for value in values.split("|")
}


# --------------------------------------------------------------------------- the tests


@pytest.fixture
def tmp_folder(tmp_path: Path) -> Path:
    global _TMP
    _TMP = tmp_path
    return tmp_path


def test_every_public_entry_point_has_a_baseline_or_a_reason() -> None:
    missing = sorted(name for name in public_entry_points() if name not in BASELINES and name not in NOT_ENTRY_POINTS)
    assert missing == [], f"add a baseline call (BASELINES) or a reason (NOT_ENTRY_POINTS) for: {missing}"


def test_every_baseline_call_succeeds(tmp_folder: Path) -> None:
    """The table's premise: with the baseline arguments every entry point works, so a failure is the bad value's."""
    failing = []
    for entry, fn in sorted(public_entry_points().items()):
        if entry in NOT_ENTRY_POINTS:
            continue
        params = list(inspect.signature(fn).parameters.values())
        try:
            _call(fn, params, {name: make() for name, make in BASELINES[entry].items()})
        except Exception as error:  # noqa: BLE001 - listed below
            if not passed_the_checks(entry, error):
                failing.append(f"{entry}: {type(error).__name__}: {error}")
    assert failing == []


def all_cases() -> list[tuple[str, Callable[..., Any], inspect.Parameter, list[inspect.Parameter], Bad, str]]:
    cases = []
    for entry, fn in sorted(public_entry_points().items()):
        if entry in NOT_ENTRY_POINTS:
            continue
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not p.name.startswith("_")]
        for param in params:
            annotation = param.annotation if isinstance(param.annotation, str) else getattr(
                param.annotation, "__name__", str(param.annotation))
            optional = "None" in annotation or param.default is None or annotation.strip("'") in OPTIONAL_ALIASES
            kind = kind_of(param.name, annotation, entry)
            for bad in VALUES:
                expected = expectation(kind, optional, bad)
                if expected != SKIP:
                    cases.append((entry, fn, param, params, bad, expected))
    return cases


def test_every_bad_value_at_every_public_entry_point_is_refused_clearly_or_accepted_for_a_reason(
        tmp_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = [run_case(entry, fn, param, params, bad, expected)
                for entry, fn, param, params, bad, expected in all_cases()]
    verdicts = collections.Counter()
    problems, still_known, reasons = [], [], collections.Counter()
    for out in outcomes:
        if out.verdict in ("clear", "called"):
            verdicts["clear"] += 1
            if out.key in KNOWN:
                still_known.append(out.key)
            continue
        if out.verdict == "accepted" and out.expected == CALLED:
            out.verdict, why = "accepted", CALLBACK_REASON
        else:
            why = accepted_because(out) if out.verdict == "accepted" and out.expected in (MAYBE, EITHER) else None
        if why:
            verdicts["accepted"] += 1
            reasons[why] += 1
            if out.key in KNOWN:
                still_known.append(out.key)
            continue
        if out.key in KNOWN:
            verdicts["known"] += 1
            continue
        verdicts["failed"] += 1
        problems.append(out)
    with capsys.disabled():
        print(f"\n{len(outcomes)} cases over {len({o.entry for o in outcomes})} entry points: "
              f"{verdicts['clear']} clear, {verdicts['accepted']} accepted, {verdicts['known']} known, "
              f"{verdicts['failed']} failed")
        for why, count in reasons.most_common():
            print(f"  accepted {count:3d}: {why}")
    assert not still_known, f"these KNOWN cases pass now; remove them from KNOWN: {sorted(still_known)}"
    report = "\n".join(f"{o.entry}({o.param}={o.value}) expected {o.expected}: {o.verdict} {o.detail}"
                       for o in problems)
    assert not problems, f"{len(problems)} case(s) unclear:\n{report}"
