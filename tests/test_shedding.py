"""Deadlines in the experiment: refusals and deadlines as outcomes, the network's deadline, shedding at the store.

Patterns set the current save's deadline with :func:`~aether.contracts.deadline_scope`; the
network caps each call's timeout at the time left, and the store's queue drops a call whose
caller's deadline passed before a server was free (``"expired"``). The patterns here are small
and written for the test, so that the numbers can be counted by hand.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from aether import Event, InMemoryEventStore, SimulatedClock
from aether.contracts import deadline_scope
from aether.errors import CommandRefusedError, DeadlineExceededError, StoreTimeoutError
from aether.experiment import (
    Capacity,
    Constant,
    Exponential,
    NetworkModel,
    NetworkStore,
    RunResult,
    measure_run,
    outcome_of,
    run_contention,
    run_load,
)


def with_deadline(seconds: float, *, read: bool = True) -> Callable[..., Event]:
    """A pattern that makes one attempt within a deadline of *seconds* (a timeout becomes the deadline's error)."""

    def deadline_save(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
        due = clock.now() + seconds
        try:
            with deadline_scope(due):
                version = store.get_latest_version(actor_id) if read else 0
                event = Event(actor_id=actor_id, event_type=event_type, version=version + 1, data=data)
                store.save_event(event)
                return event
        except StoreTimeoutError as exc:
            raise DeadlineExceededError(actor_id, due, 1) from exc

    return deadline_save


def refuse_odd_writers(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    """Save for even writers; refuse (the command says no) for odd ones."""
    version = store.get_latest_version(actor_id)
    if data["writer"] % 2:
        raise CommandRefusedError(actor_id, version, "odd writers may not save")
    event = Event(actor_id=actor_id, event_type=event_type, version=version + 1, data=data)
    store.save_event(event)
    return event


# --------------------------------------------------------------------------- the classifier


@pytest.mark.parametrize(("error", "word"), [
    (CommandRefusedError("a", 1), "refused"),
    (DeadlineExceededError("a", 1.0, 2), "deadline"),
    (StoreTimeoutError("slow"), "timeout"),
    (KeyError("x"), "error"),
])
def test_one_classifier_names_each_error(error: BaseException, word: str) -> None:
    assert outcome_of(error) == word


def test_a_refused_save_is_an_answer_not_a_failure() -> None:
    result = run_contention(refuse_odd_writers, writers=6, actors=6, seed=0)
    assert result.saves["outcome"].tolist() == ["committed", "refused"] * 3
    assert set(result.saves["error"]) == {""}
    summary = result.summary()
    assert (summary.committed, summary.refused, summary.failed, summary.errors) == (3, 3, 0, 0)
    measured = measure_run(_as_open(result))
    assert (measured["refused"], measured["failed"]) == (3, 0)


def _as_open(result: RunResult) -> RunResult:
    """A closed-loop result that measure_run can read (it needs the offered duration)."""
    result.settings["duration"] = max(result.saves["end"].max(), 1e-3)
    return result


# --------------------------------------------------------------------------- the network's deadline


def _net(model: NetworkModel) -> tuple[NetworkStore, SimulatedClock]:
    clock = SimulatedClock()
    return NetworkStore(InMemoryEventStore(), model, clock, random.Random(0)), clock


@pytest.mark.parametrize(("timeout", "deadline", "gives_up_at"), [
    (None, 0.015, 0.015),  # the deadline alone: the call's timeout is the time left
    (0.050, 0.030, 0.030),  # the deadline is earlier than the timeout
    (0.012, 0.030, 0.012),  # the timeout is earlier than the deadline
])
def test_a_call_times_out_at_the_earlier_of_its_timeout_and_the_saves_deadline(
        timeout: float | None, deadline: float, gives_up_at: float) -> None:
    net, clock = _net(NetworkModel(hop=Constant(0.020), timeout=timeout))  # 40 ms round trip
    given_up: list[float] = []

    def caller() -> None:
        with deadline_scope(clock.now() + deadline), pytest.raises(StoreTimeoutError):
            net.get_latest_version("a")
        given_up.append(clock.now())

    clock.spawn(caller)
    clock.run()
    assert given_up == pytest.approx([gives_up_at])


def test_a_call_after_the_deadline_is_not_sent() -> None:
    net, clock = _net(NetworkModel(hop=Constant(0.010)))

    def caller() -> None:
        with deadline_scope(clock.now()), pytest.raises(StoreTimeoutError, match="deadline passed"):
            net.save_event(Event(actor_id="a", event_type="T", version=1))

    clock.spawn(caller)
    clock.run()
    assert clock.now() == 0.0 and net.store.get_latest_version("a") == 0


# --------------------------------------------------------------------------- shedding, by hand


def _three_callers(drop_expired: bool) -> RunResult:
    """Three writers at once on one server: reads free, writes 0.1 s, each save's deadline 0.15 s, no network.

    Writer 0's write runs 0.0-0.1 (committed). Writer 1's starts at 0.1, before its deadline, and
    ends at 0.2, after it: served for nothing (abandoned; stored all the same). Writer 2's would
    start at 0.2, past its deadline of 0.15: with shedding it is dropped unserved.
    """
    capacity = Capacity(service={"read": Constant(0.0), "write": Constant(0.1)}, drop_expired=drop_expired)
    return run_contention(with_deadline(0.15), writers=3, actors=3, network=None, capacity=capacity)


def test_the_store_drops_a_call_whose_callers_deadline_passed_before_service() -> None:
    result = _three_callers(drop_expired=True)
    writes = result.station[result.station["op"] == "save_event"]
    assert writes["result"].tolist() == ["ok", "ok", "expired"]
    assert writes["abandoned"].tolist() == [False, True, True]
    assert writes["service"].tolist() == pytest.approx([0.1, 0.1, 0.0])
    assert result.saves["outcome"].tolist() == ["committed", "deadline", "deadline"]
    summary = result.summary()
    assert (summary.committed, summary.deadlines, summary.expired, summary.failed) == (1, 2, 1, 2)
    timeline = result.timeline(bin=0.1)
    assert timeline["expired"].sum() * 0.1 == pytest.approx(1)
    assert timeline["deadlines"].sum() * 0.1 == pytest.approx(2)
    assert measure_run(_as_open(result))["deadlines"] == 2


def test_without_shedding_the_store_serves_a_call_whose_caller_has_gone() -> None:
    result = _three_callers(drop_expired=False)
    writes = result.station[result.station["op"] == "save_event"]
    assert writes["result"].tolist() == ["ok", "ok", "ok"]
    assert writes["end"].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert result.summary().expired == 0


def test_calls_without_a_deadline_are_never_dropped() -> None:
    capacity = Capacity(service=Constant(0.1))  # shedding on, the default
    result = run_contention(_no_deadline, writers=3, actors=3, network=None, capacity=capacity)
    assert set(result.station["result"]) == {"ok"} and result.summary().committed == 3


def _no_deadline(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    event = Event(actor_id=actor_id, event_type=event_type, version=store.get_latest_version(actor_id) + 1)
    store.save_event(event)
    return event


# --------------------------------------------------------------------------- shedding against theory

MU = 100.0  # one server, exponential service of mean 10 ms
LAMBDA = 1.5 * MU  # Poisson arrivals at 1.5x capacity
DEADLINE = 0.1  # each save's deadline: ten mean services


def _overloaded(drop_expired: bool) -> RunResult:
    capacity = Capacity(service=Exponential(1 / MU), drop_expired=drop_expired)
    return run_load(with_deadline(DEADLINE, read=False), rate=LAMBDA, duration=20.0, actors=10**9,
                    capacity=capacity, network=None, seed=1)


def test_with_shedding_goodput_at_one_and_a_half_times_capacity_stays_above_mu_over_mu_plus_lambda() -> None:
    """Goodput stays between mu / (mu + lambda) = 40% of capacity and capacity itself.

    Each save is one write with a deadline D; one server with exponential service (rate mu)
    and Poisson arrivals (rate lambda = 1.5 mu): the queue never empties. When a server
    frees, the next call it serves is the oldest whose deadline has not passed. Every call
    before it has been served or dropped, so its remaining budget r is at least the gap from
    that point to the next arrival, an Exp(lambda) time (arrivals are memoryless). It commits
    in time if its service S ~ Exp(mu) is shorter: P(S < r) >= P(S < Exp(lambda)) =
    mu / (mu + lambda) = 0.4. The server is always busy (dropped calls take no time), so
    goodput >= 0.4 mu; it cannot exceed mu. Measured from 2 s (after the queue has filled) to
    the end of the arrivals.
    """
    result = _overloaded(drop_expired=True)
    timeline = result.timeline(bin=1.0)
    steady = timeline[(timeline["start"] >= 2.0) & (timeline["start"] < 20.0)]
    goodput = steady["goodput"].mean()
    print(f"goodput with shedding: {goodput:.1f}/s = {goodput / MU:.2f} x capacity")
    assert MU * MU / (MU + LAMBDA) <= goodput <= MU
    assert result.summary().expired > 0 and result.summary().utilisation > 0.95


def test_without_shedding_the_overload_becomes_a_storm_that_persists() -> None:
    """Without shedding every call is served, its caller long gone: the queue grows at lambda - mu = 50/s.

    Its wait passes D after about D / (1 - mu / lambda) = 0.3 s and keeps growing, so from then on
    almost no save meets its deadline while the server stays fully busy: in the second half of the
    run goodput stays under 5% of capacity.
    """
    result = _overloaded(drop_expired=False)
    timeline = result.timeline(bin=1.0)
    late = timeline[(timeline["start"] >= 10.0) & (timeline["start"] < 20.0)]
    print(f"goodput without shedding, 10-20 s: {late['goodput'].mean():.1f}/s")
    assert late["goodput"].mean() < 0.05 * MU
    assert result.summary().expired == 0 and result.summary().utilisation > 0.95
