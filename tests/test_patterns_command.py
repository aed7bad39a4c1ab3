"""Retry the command, not the write: decide on every attempt, refuse, one key per save, deadlines.

The invariant tests run N writers that each reserve one unit from a stock of S
through every retry pattern, with a decision that refuses once S reservations
are stored: exactly min(N, S) are stored and N - min(N, S) refused, on the
simulated clock, on real threads and in real SQLite processes. The blind
mapping (the Go template) is run beside them to show by how much it oversells.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from patternhelpers import ACTOR, Reserving, ReservingPolicy, RivalStore, ScriptedStore, commit_rival

from aether.clock import Clock, SimulatedClock
from aether.contracts import call_deadline
from aether.errors import (
    CommandRefusedError,
    DeadlineExceededError,
    StoreTimeoutError,
    VersionConflictError,
)
from aether.events import Event
from aether.experiment import Capacity, Constant, Exponential, NetworkModel, run_contention
from aether.patterns import (
    AdaptiveThrottlingPolicy,
    CircuitBreaker,
    CircuitBreakerPolicy,
    ClientThrottle,
    RetryBudget,
    RetryBudgetPolicy,
    ThrashingPolicy,
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
from aether.store.memory import InMemoryEventStore

STOCK = 5
WRITERS = 12
PATIENT = ThrashingPolicy(stuck_after=1000, no_progress_window=1000)


@dataclass(frozen=True)
class WarmThrottlingPolicy(AdaptiveThrottlingPolicy):
    """A throttle that has seen 100 requests accepted: a client already talking to a healthy store.

    A cold throttle rejects a herd that arrives before any reply (its first
    rejections then keep it closed), which is not what these tests are about.
    """

    def new_state(self, clock: Clock, rng: random.Random | None) -> ClientThrottle:
        throttle = super().new_state(clock, rng)
        for _ in range(100):
            throttle.record_accept()
        return throttle

#: Every retry pattern, set to retry long enough that no writer gives up before the stock is gone.
RETRIES: dict[str, Any] = {
    "immediate_retry": functools.partial(immediate_retry, max_attempts=500),
    "simple_retry": functools.partial(simple_retry, max_attempts=100, max_delay=0.05),
    "conflict_detailed_retry": functools.partial(conflict_detailed_retry, max_attempts=100,
                                                 max_delay=0.05, thrashing=PATIENT),
    "jitter_retry": functools.partial(jitter_retry, max_attempts=200, max_delay=0.05),
    "adaptive_retry": functools.partial(adaptive_retry, max_attempts=100),
    "retry_on_failure": functools.partial(retry_on_failure, max_attempts=500, base_delay=0.002),
    "circuit_breaker": CircuitBreakerPolicy(max_attempts=100, max_delay=0.05),
    "retry_budget": RetryBudgetPolicy(retry_cost=0, unavailable_cost=0, max_attempts=100, max_delay=0.05),
    "adaptive_throttling": WarmThrottlingPolicy(max_attempts=100, max_delay=0.05),
}


def reserving(name: str, stock: int = STOCK, *, blind: bool = False) -> Any:
    retry = RETRIES[name]
    if hasattr(retry, "bind"):
        return ReservingPolicy(retry, stock, blind)
    return Reserving(retry, stock, blind)


def tally(result: Any) -> tuple[int, int, int]:
    """(events stored at the actor, saves committed, saves refused) of a one-actor run."""
    stored = len(result.store.get_events("actor-0"))
    outcomes = result.saves["outcome"]
    refused = int(((outcomes == "refused") | (result.saves["error"] == "CommandRefusedError")).sum())
    return stored, int((outcomes == "committed").sum()), refused


# --------------------------------------------------------------------------- the invariant


@pytest.mark.parametrize("name", list(RETRIES))
def test_with_a_decision_every_retry_pattern_stores_the_stock_and_refuses_the_rest_simulated(name: str) -> None:
    result = run_contention(reserving(name), writers=WRITERS, seed=3)
    stored, committed, refused = tally(result)
    print(f"{name} simulated: {WRITERS} writers, stock {STOCK}: stored {stored}, refused {refused}")
    assert (stored, committed, refused) == (STOCK, STOCK, WRITERS - STOCK)


@pytest.mark.parametrize("name", list(RETRIES))
def test_with_a_decision_every_retry_pattern_stores_the_stock_and_refuses_the_rest_on_threads(name: str) -> None:
    result = run_contention(reserving(name), writers=WRITERS, clock="real", network=None, seed=3)
    stored, committed, refused = tally(result)
    print(f"{name} threads: {WRITERS} writers, stock {STOCK}: stored {stored}, refused {refused}")
    assert (stored, committed, refused) == (STOCK, STOCK, WRITERS - STOCK)


@pytest.mark.parametrize("name", list(RETRIES))
def test_with_a_decision_retry_patterns_store_the_stock_and_refuse_the_rest_in_sqlite_processes(name: str) -> None:
    writers, stock = 6, 4
    result = run_contention(reserving(name, stock), writers=writers, clock="real", store="sqlite",
                            network=None, seed=3, timeout=60)
    stored, committed, refused = tally(result)
    print(f"{name} sqlite processes: {writers} writers, stock {stock}: stored {stored}, refused {refused}")
    assert (stored, committed, refused) == (stock, stock, writers - stock)


@pytest.mark.parametrize("name", list(RETRIES))
def test_the_blind_mapping_oversells_by_every_writer_beyond_the_stock(name: str) -> None:
    result = run_contention(reserving(name, blind=True), writers=WRITERS, seed=3)
    stored, committed, refused = tally(result)
    print(f"{name} blind: {WRITERS} writers, stock {STOCK}: stored {stored}, oversold by {stored - STOCK}")
    assert (stored, committed, refused) == (WRITERS, WRITERS, 0)


def test_the_blind_mapping_oversells_in_sqlite_processes_too() -> None:
    writers, stock = 6, 4
    result = run_contention(reserving("jitter_retry", stock, blind=True), writers=writers, clock="real",
                            store="sqlite", network=None, seed=3, timeout=60)
    stored, committed, refused = tally(result)
    print(f"jitter_retry blind sqlite processes: stock {stock}: stored {stored}, oversold by {stored - stock}")
    assert (stored, committed, refused) == (writers, writers, 0)


def test_more_stock_than_writers_stores_every_reservation_and_refuses_none() -> None:
    result = run_contention(reserving("jitter_retry", stock=20), writers=WRITERS, seed=1)
    assert tally(result) == (WRITERS, WRITERS, 0)


# --------------------------------------------------------------------------- deciding and refusing


def test_the_decision_is_made_again_on_a_fresh_read_after_every_conflict() -> None:
    store = RivalStore(rivals=[1, 2])
    seen: list[int] = []

    def decide(events: Sequence[Event]) -> Mapping[str, Any]:
        seen.append(len(events))
        return {"n": len(events)}

    event = simple_retry(store, ACTOR, "T", decide, clock=SimulatedClock())
    assert seen == [0, 1, 3] and event.version == 4 and event.data == {"n": 3}


def test_a_refusal_raises_command_refused_with_the_version_seen_and_is_not_retried() -> None:
    store = RivalStore(rivals=[1])
    calls: list[int] = []

    def decide(events: Sequence[Event]) -> Mapping[str, Any] | None:
        calls.append(len(events))
        return None if events else {"first": True}

    with pytest.raises(CommandRefusedError) as info:
        jitter_retry(store, ACTOR, "T", decide, clock=SimulatedClock(), rng=random.Random(0))
    assert (calls, info.value.version, store.writes) == ([0, 1], 1, 1)


def test_a_decision_that_returns_no_mapping_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="decide must return a mapping or None"):
        no_retry(InMemoryEventStore(), ACTOR, "T", lambda events: 42)  # type: ignore[arg-type,return-value]


def test_the_blind_mapping_reads_the_latest_version_only() -> None:
    store = RivalStore(rivals=[1])
    simple_retry(store, ACTOR, "T", {"blind": True}, clock=SimulatedClock())
    assert store.reads == 2  # get_latest_version before each attempt, as the Go template


# --------------------------------------------------------------------------- one key per logical save


def timeout_retries() -> dict[str, Callable[..., Event]]:
    """Every pattern that retries a timed-out write, ready to call."""
    clock = SimulatedClock()
    return {
        "retry_on_failure": functools.partial(retry_on_failure, max_attempts=3),
        "circuit_breaker_retry": functools.partial(circuit_breaker_retry, breaker=CircuitBreaker(clock=clock)),
        "budgeted_retry": functools.partial(budgeted_retry, budget=RetryBudget()),
        "adaptive_throttling": functools.partial(adaptive_throttling, throttle=ClientThrottle(clock=clock)),
    }


@pytest.mark.parametrize("name", list(timeout_retries()))
def test_a_decision_finds_its_own_write_that_landed_after_a_lost_reply_and_stores_it_once(name: str) -> None:
    store = ScriptedStore(["lost-reply"])
    decisions: list[int] = []

    def decide(events: Sequence[Event]) -> Mapping[str, Any]:
        decisions.append(len(events))
        return {"units": 1}

    event = timeout_retries()[name](store, ACTOR, "T", decide, clock=SimulatedClock())
    stored = store.inner.get_events(ACTOR)
    assert stored == [event] and decisions == [0] and len(store.saved) == 1


@pytest.mark.parametrize("name", list(timeout_retries()))
def test_a_blind_save_resends_the_same_event_after_a_lost_reply_and_stores_it_once(name: str) -> None:
    store = ScriptedStore(["lost-reply"])
    event = timeout_retries()[name](store, ACTOR, "T", {"units": 1}, clock=SimulatedClock())
    assert store.inner.get_events(ACTOR) == [event] and [e.id for e in store.saved] == [event.id] * 2


@pytest.mark.parametrize("command", [{"units": 1}, lambda events: {"units": 1}], ids=["blind", "decision"])
def test_a_save_whose_key_is_already_stored_returns_the_stored_event(command: Any) -> None:
    store = InMemoryEventStore()
    first = simple_retry(store, ACTOR, "T", {"units": 1}, key="order-7-payment")
    commit_rival(store, ACTOR)
    again = simple_retry(store, ACTOR, "T", command, key="order-7-payment")
    assert again == first and len(store.get_events(ACTOR)) == 2


def test_every_attempt_of_one_save_carries_the_same_key() -> None:
    store = ScriptedStore(["rival", StoreTimeoutError("late"), "rival"])
    event = retry_on_failure(store, ACTOR, "T", lambda events: {"n": len(events)}, max_attempts=4)
    assert {e.id for e in store.saved} == {event.id} and len(store.saved) == 4


SLOW_WRITES = Capacity(workers=1, service={"read": Constant(0.001), "write": Exponential(0.03)})


@pytest.mark.parametrize("name", ["retry_on_failure", "circuit_breaker", "retry_budget", "adaptive_throttling"])
@pytest.mark.parametrize("blind", [False, True], ids=["decision", "blind"])
def test_under_timeouts_that_commit_every_logical_save_is_stored_at_most_once(name: str, blind: bool) -> None:
    stock = 1000 if blind else STOCK
    result = run_contention(reserving(name, stock, blind=blind), writers=WRITERS, saves_per_writer=2, seed=5,
                            network=NetworkModel(timeout=0.04), capacity=SLOW_WRITES)
    events = result.store.get_events("actor-0")
    per_save = Counter((e.data["writer"], e.data["save"]) for e in events)
    timeouts = int((result.calls["result"] == "timeout").sum())
    committed = int((result.saves["outcome"] == "committed").sum())
    print(f"{name} {'blind' if blind else 'decision'}: {timeouts} timed-out calls, {len(events)} stored, "
          f"{committed} committed, most copies of one save: {max(per_save.values())}")
    assert timeouts > 0 and max(per_save.values()) == 1
    if not blind:  # never oversold; the whole stock goes unless some saves ended without deciding
        undecided = result.saves["outcome"].isin(["gave_up", "rejected", "deadline"]).any()
        assert len(events) <= STOCK and (undecided or len(events) == STOCK)


# --------------------------------------------------------------------------- deadlines


class TimedRivals(RivalStore):
    """A store where a rival always commits first (every save conflicts); each call takes 3 ms."""

    def __init__(self, clock: SimulatedClock) -> None:
        super().__init__(rivals=[1] * 10_000)
        self.clock = clock
        self.starts: list[float] = []
        self.deadlines: list[float | None] = []

    def get_latest_version(self, actor_id: str) -> int:
        self.deadlines.append(call_deadline.get())
        self.clock.sleep(0.003)
        return super().get_latest_version(actor_id)

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        self.deadlines.append(call_deadline.get())
        self.clock.sleep(0.003)
        return super().get_events(actor_id, from_version)

    def save_event(self, event: Event) -> None:
        self.deadlines.append(call_deadline.get())
        self.starts.append(self.clock.now())
        self.clock.sleep(0.003)
        super().save_event(event)


def deadline_patterns(clock: SimulatedClock) -> dict[str, Callable[..., Event]]:
    many = 10_000
    return {
        "immediate_retry": functools.partial(immediate_retry, max_attempts=many),
        "simple_retry": functools.partial(simple_retry, max_attempts=many),
        "conflict_detailed_retry": functools.partial(conflict_detailed_retry, max_attempts=many,
                                                     thrashing=PATIENT),
        "jitter_retry": functools.partial(jitter_retry, max_attempts=many, rng=random.Random(1)),
        "adaptive_retry": functools.partial(adaptive_retry, max_attempts=many),
        "retry_on_failure": functools.partial(retry_on_failure, max_attempts=many),
        "circuit_breaker_retry": functools.partial(circuit_breaker_retry, max_attempts=many,
                                                   breaker=CircuitBreaker(clock=clock)),
        "budgeted_retry": functools.partial(budgeted_retry, max_attempts=many,
                                            budget=RetryBudget(retry_cost=0, unavailable_cost=0)),
        "adaptive_throttling": functools.partial(adaptive_throttling, max_attempts=many,
                                                 throttle=ClientThrottle(clock=clock)),
    }


@pytest.mark.parametrize("name", list(deadline_patterns(SimulatedClock())))
@pytest.mark.parametrize("blind", [False, True], ids=["decision", "blind"])
def test_no_attempt_starts_after_the_deadline_and_expiry_raises_deadline_exceeded(name: str, blind: bool) -> None:
    clock = SimulatedClock()
    store = TimedRivals(clock)
    command = {"units": 1} if blind else (lambda events: {"units": 1})
    with pytest.raises(DeadlineExceededError) as info:
        deadline_patterns(clock)[name](store, ACTOR, "T", command, clock=clock, deadline=0.25)
    assert store.starts and max(store.starts) < 0.25
    assert clock.now() <= 0.25 + 0.003 * 2  # at most the call under way when time ran out
    assert isinstance(info.value.__cause__, VersionConflictError)
    assert info.value.attempts == len(store.starts) and info.value.deadline == 0.25


@pytest.mark.parametrize("name", list(deadline_patterns(SimulatedClock())))
def test_store_calls_run_inside_the_saves_deadline_scope(name: str) -> None:
    clock = SimulatedClock(start=10.0)
    store = TimedRivals(clock)
    with pytest.raises(DeadlineExceededError):
        deadline_patterns(clock)[name](store, ACTOR, "T", lambda events: {}, clock=clock, deadline=0.1)
    assert set(store.deadlines) == {10.1} and call_deadline.get() is None


def test_a_wait_that_would_end_past_the_deadline_is_not_started() -> None:
    clock = SimulatedClock(record_sleeps=True)
    store = RivalStore(rivals=[1] * 10)
    with pytest.raises(DeadlineExceededError):
        simple_retry(store, ACTOR, "T", {}, clock=clock, max_attempts=10, deadline=0.05)
    assert clock.sleeps == [0.01, 0.02] and store.writes == 3  # the 40 ms wait would end at 0.07


class CountingClock(SimulatedClock):
    """A simulated clock that counts how often ``now()`` is read."""

    reads = 0

    def now(self) -> float:
        self.reads += 1
        return super().now()


def test_a_save_without_a_deadline_never_reads_the_clock_for_one() -> None:
    clock = CountingClock()
    assert simple_retry(RivalStore(rivals=[1, 1]), ACTOR, "T", {}, clock=clock).version == 3
    without = clock.reads
    clock = CountingClock()
    simple_retry(RivalStore(rivals=[1, 1]), ACTOR, "T", {}, clock=clock, deadline=5.0)
    assert without == 0 and clock.reads > 0


@pytest.mark.parametrize("deadline", [0, -1.0, float("nan")])
def test_a_deadline_must_be_a_positive_number_of_seconds(deadline: float) -> None:
    with pytest.raises(ValueError, match="deadline"):
        simple_retry(InMemoryEventStore(), ACTOR, "T", {}, deadline=deadline)


def test_a_policy_with_a_deadline_gives_every_save_of_the_run_that_budget() -> None:
    policy = CircuitBreakerPolicy(failure_threshold=10_000, max_attempts=10_000, deadline=0.3)
    result = run_contention(ReservingPolicy(policy, stock=1000), writers=30, seed=2,
                            capacity=Capacity(workers=1, service=Constant(0.02)))
    saves, calls = result.saves, result.calls
    expired = saves[(saves["outcome"] == "deadline") | (saves["error"] == "DeadlineExceededError")]
    writes = calls[calls["op"] == "save_event"].merge(saves[["writer", "save", "start"]],
                                                      on=["writer", "save"], suffixes=("", "_save"))
    print(f"30 writers, one server of 20 ms, deadline 0.3 s: {len(expired)} saves expired, "
          f"{int((saves['outcome'] == 'committed').sum())} committed")
    assert len(expired) > 0 and len(expired) + (saves["outcome"] == "committed").sum() == 30
    assert ((writes["start"] - writes["start_save"]) < 0.3).all()  # no attempt begun past the budget


@pytest.mark.parametrize("policy", [CircuitBreakerPolicy, RetryBudgetPolicy, AdaptiveThrottlingPolicy])
def test_a_policy_deadline_must_be_positive(policy: Any) -> None:
    with pytest.raises(ValueError, match="deadline"):
        policy(deadline=0)


def test_a_deadline_scope_checks_its_deadline_when_it_is_made_not_when_it_is_entered() -> None:
    from aether.contracts import deadline_scope

    with pytest.raises(TypeError, match=r"^deadline_at must be a number; got 'soon' \(str\)"):
        deadline_scope("soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^deadline_at must be a finite number; got nan"):
        deadline_scope(float("nan"))


def test_a_class_given_as_the_data_is_refused_before_any_store_call() -> None:
    from aether import InMemoryEventStore
    from aether.patterns import simple_retry

    store = InMemoryEventStore()
    with pytest.raises(TypeError, match=r"^data must be a decision .* not a class; got <class 'dict'>"):
        simple_retry(store, ACTOR, "Reserved", dict, clock=SimulatedClock())
    assert store.get_latest_version(ACTOR) == 0


@pytest.mark.parametrize("policy", [RetryBudgetPolicy, AdaptiveThrottlingPolicy, CircuitBreakerPolicy])
def test_a_shared_state_policy_refuses_a_name_that_is_not_a_non_empty_str(policy: Any) -> None:
    with pytest.raises(TypeError, match=r"^name must be a str; got None"):
        policy(name=None)
    with pytest.raises(ValueError, match=r"^name must be a non-empty str; got ''"):
        policy(name="")


def test_a_shared_state_policy_refuses_run_states_of_the_wrong_kind() -> None:
    with pytest.raises(TypeError, match=r"^budgets\[0\] must be a RetryBudget; got 'x' \(str\)"):
        RetryBudgetPolicy(budgets=["x"])
    with pytest.raises(TypeError, match=r"^breakers must be a list of a CircuitBreaker"):
        CircuitBreakerPolicy(breakers="x")  # type: ignore[arg-type]


def test_pattern_name_refuses_what_is_not_a_pattern() -> None:
    from aether.contracts import pattern_name

    with pytest.raises(TypeError, match=r"^pattern must be a pattern \(a callable or a Bindable\); got 'x' \(str\)"):
        pattern_name("x")


# --- what a lost write's error carries ----------------------------------------------------------------------


def _frames(error: BaseException) -> list[str]:
    import traceback

    return [frame.name for frame in traceback.extract_tb(error.__traceback__)]


def test_a_conflict_reaches_the_caller_of_send_without_the_frames_of_send_and_the_store() -> None:
    from aether.patterns.command import LogicalSave
    from aether.store import InMemoryEventStore

    store = InMemoryEventStore()
    store.save_event(Event(actor_id="a", event_type="E", version=1))
    save = LogicalSave(store, "a", "E", None, SimulatedClock())

    def pattern() -> Event:
        return save.send(Event(actor_id="a", event_type="E", version=1))

    with pytest.raises(VersionConflictError) as caught:
        pattern()
    assert _frames(caught.value)[-1] == "pattern"
    assert not {"send", "save_event"} & set(_frames(caught.value))


def test_any_other_store_error_keeps_its_frames_down_to_the_store() -> None:
    from aether.patterns.command import LogicalSave

    class Broken:
        def save_event(self, event: Event) -> None:
            raise RuntimeError("disk on fire")

        def get_latest_version(self, actor_id: str) -> int:
            return 0

        def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
            return []

    save = LogicalSave(Broken(), "a", "E", None, SimulatedClock())
    with pytest.raises(RuntimeError) as caught:
        save.send(Event(actor_id="a", event_type="E", version=1))
    assert _frames(caught.value)[-2:] == ["send", "save_event"]
