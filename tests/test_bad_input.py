"""Every public entry point refuses bad input clearly, before it touches a store.

One table: for each case, the call, the error it must raise (a ``TypeError`` for
the wrong type, a ``ValueError`` for the wrong value, or an aether error), and
the text of the bad value that the message must show. After each call the
store it was given must be unchanged.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from aether import Event, InMemoryEventStore, RealClock, SimulatedClock
from aether.experiment import (
    Capacity,
    Constant,
    LatencySpike,
    NetworkModel,
    Outage,
    Slowdown,
    run_contention,
    run_load,
    sweep,
)
from aether.patterns import (
    CircuitBreaker,
    RetryBudget,
    RetryQueue,
    budgeted_retry,
    circuit_breaker_retry,
    conflict_detailed_retry,
    jitter_retry,
    simple_retry,
)

STORE = InMemoryEventStore()  # every case may use it; none may change it
CLOCK = SimulatedClock()


def _self_containing() -> dict[str, Any]:
    data: dict[str, Any] = {}
    data["me"] = data
    return data


def _deep(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(levels):
        data = {"x": data}
    return data


def _ticket_wait(timeout: Any) -> Any:
    queue = RetryQueue(STORE, clock=SimulatedClock())
    ticket = queue.enqueue("a", "T", {})
    return ticket.wait(timeout)


CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # events
    ("Event version 0", lambda: Event(actor_id="a", event_type="T", version=0), ValueError, "0"),
    ("Event version 1.5", lambda: Event(actor_id="a", event_type="T", version=1.5), TypeError, "1.5"),
    ("Event empty actor", lambda: Event(actor_id="", event_type="T", version=1), ValueError, "''"),
    ("Event data a list", lambda: Event(actor_id="a", event_type="T", version=1, data=[1]), TypeError, "[1]"),
    ("Event data containing itself", lambda: Event(actor_id="a", event_type="T", version=1,
                                                  data=_self_containing()), ValueError, "data"),
    ("Event data 100,000 deep", lambda: Event(actor_id="a", event_type="T", version=1, data=_deep(100_000)),
     ValueError, "data"),
    ("Event lone surrogate actor", lambda: Event(actor_id="a\ud800", event_type="T", version=1), ValueError,
     "actor_id"),
    # stores
    ("save_event of a dict", lambda: STORE.save_event({"version": 1}), TypeError, "{'version': 1}"),
    # clocks
    ("RealClock.sleep(1e300)", lambda: RealClock().sleep(1e300), ValueError, "1e+300"),
    ("RealClock.sleep(-1)", lambda: RealClock().sleep(-1), ValueError, "-1"),
    ("SimulatedClock.sleep(nan)", lambda: SimulatedClock().sleep(math.nan), ValueError, "nan"),
    ("SimulatedClock.sleep('1')", lambda: SimulatedClock().sleep("1"), TypeError, "'1'"),
    ("sleep(10**400)", lambda: SimulatedClock().sleep(10**400), ValueError, "10000"),
    # the harness
    ("writers=2.5", lambda: run_contention(simple_retry, writers=2.5, store=STORE), TypeError, "2.5"),
    ("writers=10**9", lambda: run_contention(simple_retry, writers=10**9, store=STORE), ValueError, "1000000000"),
    ("event_type=''", lambda: run_contention(simple_retry, writers=2, event_type="", store=STORE), ValueError,
     "''"),
    ("start_spread=True", lambda: run_contention(simple_retry, writers=2, start_spread=True, store=STORE),
     TypeError, "True"),
    ("verify='no'", lambda: run_contention(simple_retry, writers=2, verify="no", store=STORE), TypeError, "'no'"),
    ("clock='wall'", lambda: run_contention(simple_retry, writers=2, clock="wall", store=STORE), ValueError,
     "'wall'"),
    ("pattern=5", lambda: run_contention(5, writers=2, store=STORE), TypeError, "5"),
    ("store='postgres'", lambda: run_contention(simple_retry, writers=2, store="postgres"), ValueError,
     "'postgres'"),
    ("sweep(writers=5)", lambda: sweep(simple_retry, writers=5, store=STORE), TypeError, "5"),
    ("sweep(jobs=0)", lambda: sweep(simple_retry, writers=[2], jobs=0, store=STORE), ValueError, "0"),
    ("run_load rate=-1", lambda: run_load(simple_retry, rate=-1, duration=1.0, store=STORE), ValueError, "-1"),
    ("run_load duration=inf", lambda: run_load(simple_retry, rate=1, duration=math.inf, store=STORE), ValueError,
     "inf"),
    # the network and the store's capacity
    ("NetworkModel(outages=5)", lambda: NetworkModel(outages=5), TypeError, "5"),
    ("NetworkModel(hop=0.01)", lambda: NetworkModel(hop=0.01), TypeError, "0.01"),
    ("NetworkModel(failure_rate=2)", lambda: NetworkModel(failure_rate=2), ValueError, "2"),
    ("LatencySpike end nan", lambda: LatencySpike(0, math.nan, 0.1), ValueError, "nan"),
    ("Outage end before start", lambda: Outage(2.0, 1.0), ValueError, "1.0"),
    ("Constant(-0.5)", lambda: Constant(-0.5), ValueError, "-0.5"),
    ("Capacity(workers=0)", lambda: Capacity(workers=0, service=Constant(0.01)), ValueError, "0"),
    ("Slowdown factor -1", lambda: Slowdown(0, 1, -1), ValueError, "-1"),
    # patterns
    ("simple_retry max_attempts=2.5", lambda: simple_retry(STORE, "a", "T", clock=CLOCK, max_attempts=2.5),
     TypeError, "2.5"),
    ("simple_retry store=None", lambda: simple_retry(None, "a", "T", clock=CLOCK), TypeError, "None"),
    ("jitter_retry rng=5", lambda: jitter_retry(STORE, "a", "T", clock=CLOCK, rng=5), TypeError, "5"),
    ("jitter_retry clock=None", lambda: jitter_retry(STORE, "a", "T", clock=None, rng=random.Random(0)),
     TypeError, "None"),
    ("budgeted_retry budget=None", lambda: budgeted_retry(STORE, "a", "T", budget=None, clock=CLOCK), TypeError,
     "None"),
    ("circuit_breaker_retry breaker='x'", lambda: circuit_breaker_retry(STORE, "a", "T", breaker="x",
                                                                        clock=CLOCK), TypeError, "'x'"),
    ("conflict_detailed_retry on_thrashing=5",
     lambda: conflict_detailed_retry(STORE, "a", "T", clock=CLOCK, on_thrashing=5), TypeError, "5"),
    ("RetryBudget(max_tokens=-1)", lambda: RetryBudget(max_tokens=-1), ValueError, "-1"),
    ("CircuitBreaker(failure_threshold=0)", lambda: CircuitBreaker(failure_threshold=0), ValueError, "0"),
    ("RetryQueue(max_attempts=0)", lambda: RetryQueue(STORE, max_attempts=0), ValueError, "0"),
    ("Ticket.wait('1')", functools.partial(_ticket_wait, "1"), TypeError, "'1'"),
    ("Ticket.wait(-1)", functools.partial(_ticket_wait, -1), ValueError, "-1"),
    ("Ticket.wait(nan)", functools.partial(_ticket_wait, math.nan), ValueError, "nan"),
]


@pytest.mark.parametrize(("call", "error", "shown"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_a_message_that_shows_it_and_changes_nothing(
        call: Callable[[], Any], error: type[Exception], shown: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert shown in str(caught.value), f"the message does not show {shown!r}: {caught.value}"
    assert STORE.get_latest_version("a") == 0 and STORE.get_events("a") == []
