"""Specification shared by every retry pattern: one vocabulary, one give-up, arguments checked first.

Each test runs over every pattern, so a pattern added to the tables below is held to the
same rules: the retry limit is ``max_attempts`` (the first try included), the backoff
defaults are the named presets, giving up looks the same everywhere, a bad argument is
refused before the first store call, and the code the notebooks show fits a projector.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from patternhelpers import ACTOR, RivalStore, recording_clock

import aether.patterns
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.patterns import (
    AWS_BACKOFF,
    GO_BACKOFF,
    AdaptiveThrottlingPolicy,
    CircuitBreaker,
    CircuitBreakerPolicy,
    ClientThrottle,
    RetryBudget,
    RetryBudgetPolicy,
    adaptive_retry,
    adaptive_throttling,
    budgeted_retry,
    circuit_breaker_retry,
    conflict_detailed_retry,
    immediate_retry,
    jitter_retry,
    no_retry,
    retry_on_failure,
    simple_retry,
)

PATTERNS: dict[str, Callable[..., Any]] = {
    "no_retry": no_retry,
    "immediate_retry": immediate_retry,
    "simple_retry": simple_retry,
    "conflict_detailed_retry": conflict_detailed_retry,
    "jitter_retry": jitter_retry,
    "adaptive_retry": adaptive_retry,
    "circuit_breaker_retry": circuit_breaker_retry,
    "budgeted_retry": budgeted_retry,
    "retry_on_failure": retry_on_failure,
    "adaptive_throttling": adaptive_throttling,
}
RETRYING = [name for name in PATTERNS if name != "no_retry"]
BACKOFF_DEFAULTS = {
    simple_retry: GO_BACKOFF,
    conflict_detailed_retry: GO_BACKOFF,
    circuit_breaker_retry: GO_BACKOFF,
    budgeted_retry: GO_BACKOFF,
    CircuitBreakerPolicy: GO_BACKOFF,
    RetryBudgetPolicy: GO_BACKOFF,
    adaptive_throttling: GO_BACKOFF,
    AdaptiveThrottlingPolicy: GO_BACKOFF,
    jitter_retry: AWS_BACKOFF,
}
LINE_LIMIT = 100  # what a projector shows of show_source() output at a readable size
NOT_YET_WRAPPED: dict[str, str] = {}  # a module that cannot be wrapped yet, with the reason


def required(name: str) -> dict[str, Any]:
    """The keyword arguments a pattern cannot do without (a shared breaker or budget, a seeded rng)."""
    if name == "circuit_breaker_retry":
        return {"breaker": CircuitBreaker(clock=recording_clock())}
    if name == "budgeted_retry":
        return {"budget": RetryBudget()}
    if name == "jitter_retry":
        return {"rng": random.Random(0)}
    if name == "adaptive_throttling":
        return {"throttle": ClientThrottle(clock=recording_clock(), rng=random.Random(0))}
    return {}


class Named:
    """An object that is not what the parameter wants, with a short repr the message must show."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class HalfClock:
    """A clock that tells the time but cannot sleep."""

    def now(self) -> float:
        return 0.0

    def __repr__(self) -> str:
        return "<half clock>"


COMMON_BAD = [
    ("store", None, TypeError),
    ("store", Named("<read-only store>"), TypeError),
    ("actor_id", 7, TypeError),
    ("actor_id", "", ValueError),
    ("event_type", None, TypeError),
    ("data", [1, 2], TypeError),
    ("clock", None, TypeError),
    ("clock", HalfClock(), TypeError),
]
LIMIT_BAD = [
    ("max_attempts", 0, ValueError),
    ("max_attempts", "3", TypeError),
    ("max_attempts", True, TypeError),
]
BACKOFF_BAD = [
    ("base_delay", -0.01, ValueError),
    ("max_delay", "1", TypeError),
]
SPECIFIC_BAD = {
    "conflict_detailed_retry": [("thrashing", "never", TypeError), ("on_thrashing", 5, TypeError),
                                ("on_conflict", 5, TypeError)],
    "jitter_retry": [("rng", Named("<not a generator>"), TypeError), ("jitter", "ful", ValueError)],
    "adaptive_retry": [("rng", Named("<not a generator>"), TypeError), ("jitter", "none", TypeError),
                       ("policy", {}, TypeError)],
    "circuit_breaker_retry": [("breaker", None, TypeError), ("breaker", Named("<no breaker>"), TypeError)],
    "budgeted_retry": [("budget", None, TypeError), ("budget", Named("<no budget>"), TypeError)],
    "retry_on_failure": [("rng", Named("<not a generator>"), TypeError)],
    "adaptive_throttling": [("throttle", None, TypeError), ("throttle", Named("<no throttle>"), TypeError)],
}


def bad_inputs() -> list[Any]:
    cases = []
    for name, pattern in PATTERNS.items():
        params = inspect.signature(pattern).parameters
        table = COMMON_BAD + SPECIFIC_BAD.get(name, [])
        table += LIMIT_BAD if "max_attempts" in params else []
        table += BACKOFF_BAD if "base_delay" in params else []
        for param, value, error in table:
            cases.append(pytest.param(name, param, value, error, id=f"{name}-{param}={value!r}"))
    return cases


# --------------------------------------------------------------------------- one vocabulary


@pytest.mark.parametrize("pattern", [*(PATTERNS[n] for n in RETRYING), CircuitBreakerPolicy, RetryBudgetPolicy],
                         ids=lambda p: p.__name__)
def test_every_retry_limit_is_called_max_attempts(pattern: Callable[..., Any]) -> None:
    params = inspect.signature(pattern).parameters
    assert "max_attempts" in params and "max_retries" not in params


@pytest.mark.parametrize(("pattern", "preset"), BACKOFF_DEFAULTS.items(), ids=lambda p: getattr(p, "__name__", ""))
def test_backoff_defaults_are_the_named_presets(pattern: Callable[..., Any], preset: Any) -> None:
    params = inspect.signature(pattern).parameters
    assert (params["base_delay"].default, params["max_delay"].default) == (preset.base_delay, preset.max_delay)


def test_the_presets_are_the_go_examples_and_the_aws_experiment() -> None:
    assert (GO_BACKOFF.base_delay, GO_BACKOFF.max_delay) == (0.010, 1.0)
    assert (AWS_BACKOFF.base_delay, AWS_BACKOFF.max_delay) == (0.005, 2.0)


@pytest.mark.parametrize("name", RETRYING)
def test_every_pattern_gives_up_the_same_way_after_max_attempts(name: str) -> None:
    store, sim = RivalStore([1] * 10), recording_clock()
    with pytest.raises(RetriesExhaustedError) as info:
        PATTERNS[name](store, ACTOR, "Placed", clock=sim, max_attempts=3, **required(name))
    assert (info.value.attempts, info.value.reason, store.writes) == (3, "retry limit reached", 3)
    assert isinstance(info.value.__cause__, VersionConflictError)
    assert len(sim.sleeps) == (0 if name in ("immediate_retry", "retry_on_failure") else 2)  # none after the last


@pytest.mark.parametrize("name", RETRYING)
def test_max_attempts_one_is_a_single_try_without_a_wait(name: str) -> None:
    store, sim = RivalStore([1]), recording_clock()
    with pytest.raises(RetriesExhaustedError) as info:
        PATTERNS[name](store, ACTOR, "Placed", clock=sim, max_attempts=1, **required(name))
    assert (info.value.attempts, store.writes, sim.sleeps) == (1, 1, [])


# --------------------------------------------------------------------------- arguments checked first


@pytest.mark.parametrize(("name", "param", "value", "error"), bad_inputs())
def test_a_bad_argument_is_refused_before_the_first_store_call(name: str, param: str, value: object,
                                                               error: type[Exception]) -> None:
    store = RivalStore()
    kwargs: dict[str, Any] = {"clock": recording_clock(), **required(name)}
    args: dict[str, Any] = {"store": store, "actor_id": ACTOR, "event_type": "Placed", "data": {"n": 1}}
    (args if param in args else kwargs)[param] = value
    with pytest.raises(error) as info:
        PATTERNS[name](args["store"], args["actor_id"], args["event_type"], args["data"], **kwargs)
    assert type(info.value) is error
    message = str(info.value)
    assert param in message and repr(value) in message
    assert (store.reads, store.writes, store.inner.get_events(ACTOR)) == (0, 0, [])


def test_a_budgeted_retry_without_a_budget_saves_nothing() -> None:
    store = RivalStore()
    with pytest.raises(TypeError, match="budget must be a RetryBudget"):
        budgeted_retry(store, ACTOR, "Placed", budget=None, clock=recording_clock())  # type: ignore[arg-type]
    assert store.inner.get_events(ACTOR) == []


# --------------------------------------------------------------------------- the code the notebooks show


@pytest.mark.parametrize(
    "path",
    [pytest.param(path, marks=pytest.mark.xfail(reason=NOT_YET_WRAPPED[path.name]))
     if path.name in NOT_YET_WRAPPED else path
     for path in sorted(Path(aether.patterns.__file__).parent.glob("*.py"))],
    ids=lambda path: path.name,
)
def test_every_pattern_module_fits_a_projected_screen_of_100_columns(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    too_long = [(number, len(line)) for number, line in enumerate(lines, start=1) if len(line) > LINE_LIMIT]
    assert too_long == []
