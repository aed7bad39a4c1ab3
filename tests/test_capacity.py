"""Specification of the store's capacity model: queueing theory, Little's law, timeouts, overload.

The model must be right, not only plausible: mean waits are held against the
M/M/1 and M/D/1 formulas, the timeline against Little's law, and the closed
loop against the bottleneck law.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

from aether import (
    Event,
    RetriesExhaustedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.experiment import (
    Capacity,
    Constant,
    Exponential,
    NetworkModel,
    Outage,
    Ramp,
    Slowdown,
    Step,
    run_contention,
    run_load,
)
from aether.patterns import immediate_retry, no_retry

MU = 100.0  # service rate of the theory tests: 10 ms per call


def one_write(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    """A pattern that makes exactly one store call per save (each caller has an actor of its own)."""
    event = Event(actor_id=actor_id, event_type=event_type, version=1, data=data)
    store.save_event(event)
    return event


def own_stream(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    """One call per save on the writer's own stream: a closed loop with no conflicts."""
    event = Event(actor_id=f"writer-{data['writer']}", event_type=event_type, version=data["save"] + 1, data=data)
    store.save_event(event)
    return event


def open_queue(rho: float, service: Any, customers: int, seed: int = 1) -> Any:
    rate = rho * MU
    return run_load(one_write, rate=rate, duration=customers / rate, actors=10**9, capacity=Capacity(service=service),
                    network=None, seed=seed)


# Run lengths: the relative standard deviation of a run's mean wait, estimated from 30 replications
# of the Lindley recursion, is about 2.3% (M/M/1, rho 0.5, 40k customers), 3.2% (M/M/1, 0.8, 80k),
# 2.0% (M/D/1, 0.5, 30k) and 3.3% (M/D/1, 0.8, 40k). The exact check below (the harness's waits are the
# FCFS recursion on its own draws) does not depend on run length at all.


@pytest.fixture(scope="module")
def mm1_half() -> Any:
    return open_queue(0.5, Exponential(1 / MU), 40_000)


@pytest.fixture(scope="module")
def mm1_busy() -> Any:
    return open_queue(0.8, Exponential(1 / MU), 80_000)


def test_the_queue_is_exactly_first_come_first_served(mm1_busy: Any) -> None:
    station = mm1_busy.station
    arrive, service = station["arrive"].to_numpy(), station["service"].to_numpy()
    start = np.empty_like(arrive)
    free = 0.0
    for i, (a, s) in enumerate(zip(arrive, service, strict=True)):  # Lindley: start = max(arrival, free)
        start[i] = max(a, free)
        free = start[i] + s
    assert np.allclose(station["start"], start, rtol=0, atol=1e-9)
    assert station["service"].mean() == pytest.approx(1 / MU, rel=0.01)
    gaps = np.diff(arrive)
    assert gaps.mean() == pytest.approx(1 / (0.8 * MU), rel=0.01)
    assert gaps.std() / gaps.mean() == pytest.approx(1, rel=0.02)  # exponential gaps: sd = mean


# --------------------------------------------------------------------------- queueing theory


def test_mean_wait_matches_mm1_at_half_load(mm1_half: Any) -> None:
    rho, lam = 0.5, 0.5 * MU
    theory = rho / (MU - lam)
    measured = mm1_half.station["wait"].mean()
    print(f"M/M/1 rho=0.5: mean wait {measured * 1000:.3f} ms, theory {theory * 1000:.3f} ms")
    assert measured == pytest.approx(theory, rel=0.05)


def test_mean_wait_matches_mm1_at_high_load(mm1_busy: Any) -> None:
    rho, lam = 0.8, 0.8 * MU
    theory = rho / (MU - lam)
    measured = mm1_busy.station["wait"].mean()
    print(f"M/M/1 rho=0.8: mean wait {measured * 1000:.3f} ms, theory {theory * 1000:.3f} ms")
    assert measured == pytest.approx(theory, rel=0.05)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mean_wait_matches_md1_for_constant_service(rho: float) -> None:
    result = open_queue(rho, Constant(1 / MU), 30_000 if rho == 0.5 else 40_000)
    theory = rho / (2 * MU * (1 - rho))
    measured = result.station["wait"].mean()
    print(f"M/D/1 rho={rho}: mean wait {measured * 1000:.3f} ms, theory {theory * 1000:.3f} ms")
    assert measured == pytest.approx(theory, rel=0.05)


def test_two_servers_wait_as_erlang_c_predicts() -> None:
    lam, workers = 1.0 * MU, 2  # rho = lam / (2 mu) = 0.5
    result = run_load(one_write, rate=lam, duration=40_000 / lam, actors=10**9, network=None, seed=2,
                      capacity=Capacity(workers=workers, service=Exponential(1 / MU)))
    a = lam / MU
    # Erlang C: the probability of waiting, then Wq = C / (c mu - lam).
    top = a**workers / math.factorial(workers) * workers / (workers - a)
    erlang_c = top / (sum(a**k / math.factorial(k) for k in range(workers)) + top)
    theory = erlang_c / (workers * MU - lam)
    station = result.station
    measured = station["wait"].mean()
    print(f"M/M/2 rho=0.5: mean wait {measured * 1000:.3f} ms, theory {theory * 1000:.3f} ms")
    assert measured == pytest.approx(theory, rel=0.05)
    # And exactly FCFS over two servers: each call takes the server that frees first.
    free = [0.0, 0.0]
    for arrive, start, service in zip(station["arrive"], station["start"], station["service"], strict=True):
        earliest = heapq.heappop(free)
        assert start == pytest.approx(max(arrive, earliest), abs=1e-9)
        heapq.heappush(free, start + service)


def test_littles_law_holds_on_the_timeline(mm1_busy: Any) -> None:
    timeline = mm1_busy.timeline(bin=1.0)
    station = mm1_busy.station
    horizon = len(timeline) * 1.0
    mean_in_store = timeline["in_store"].mean()  # L, time-averaged over the whole run
    arrival_rate = len(station) / horizon  # lambda
    mean_time_in_store = (station["end"] - station["arrive"]).mean()  # W
    print(f"Little's law: L = {mean_in_store:.4f}, lambda W = {arrival_rate * mean_time_in_store:.4f}")
    assert mean_in_store == pytest.approx(arrival_rate * mean_time_in_store, rel=0.01)


def test_utilisation_is_offered_work_over_capacity_below_saturation(mm1_half: Any, mm1_busy: Any) -> None:
    assert mm1_half.summary().utilisation == pytest.approx(0.5, rel=0.03)
    assert mm1_busy.summary().utilisation == pytest.approx(0.8, rel=0.03)
    timeline = mm1_busy.timeline(bin=50.0)
    assert timeline["utilisation"].iloc[1:-1].mean() == pytest.approx(0.8, rel=0.03)


def test_goodput_equals_capacity_above_saturation() -> None:
    result = run_load(one_write, rate=2 * MU, duration=20.0, actors=10**9, network=None, seed=3,
                      capacity=Capacity(service=Constant(1 / MU)))
    timeline = result.timeline(bin=1.0)
    busy = timeline.iloc[1:20]  # while arrivals go on; the queue then drains at the same rate
    assert busy["offered"].mean() == pytest.approx(2 * MU, rel=0.05)
    assert np.allclose(busy["goodput"], MU, rtol=0.02)
    assert np.allclose(busy["utilisation"], 1.0)
    assert (np.diff(busy["queue_depth"]) > 0).all()  # the queue grows without bound


@pytest.mark.parametrize("writers", [2, 50])
def test_closed_loop_throughput_is_the_bottleneck_law(writers: int) -> None:
    hop, service = 0.005, 0.002
    result = run_contention(own_stream, writers=writers, saves_per_writer=200, actors=writers, seed=0,
                            network=NetworkModel(hop=Constant(hop)), capacity=Capacity(service=Constant(service)))
    summary = result.summary()
    assert summary.committed == writers * 200 and summary.calls == writers * 200
    expected = min(writers / (2 * hop + service), 1 / service)
    assert summary.throughput == pytest.approx(expected, rel=0.02)


# --------------------------------------------------------------------------- overload, faults, timeouts


def test_a_queue_limit_is_never_exceeded_and_every_rejection_is_counted() -> None:
    limit = 5
    result = run_load(one_write, rate=3 * MU, duration=5.0, actors=10**9, network=None, seed=4,
                      capacity=Capacity(service=Exponential(1 / MU), queue_limit=limit))
    station = result.station
    served = station[station["result"] != "overloaded"]
    # The number waiting at each arrival: admitted calls that arrived earlier and had not started yet.
    arrive, start = served["arrive"].to_numpy(), served["start"].to_numpy()
    for t in station["arrive"].to_numpy()[::50]:
        assert int(((arrive < t) & (start > t)).sum()) <= limit
    rejected = int((station["result"] == "overloaded").sum())
    summary = result.summary()
    assert rejected > 100
    assert summary.overloaded == rejected == int((result.calls["result"] == "overloaded").sum())
    assert (result.saves["error"] == "StoreOverloadedError").sum() == rejected


def test_a_rejection_costs_server_time() -> None:
    cost = 0.004
    capacity = Capacity(service=Constant(0.010), queue_limit=0, reject_cost=Constant(cost))
    result = run_contention(one_write, writers=3, actors=3, network=None, capacity=capacity)
    station = result.station
    assert list(station["result"]) == ["ok", "overloaded", "overloaded"]
    assert list(station["end"]) == pytest.approx([0.010, cost, cost])
    assert result.summary().overloaded == 2


def test_a_slowdown_multiplies_service_times_inside_its_window() -> None:
    capacity = Capacity(service=Constant(0.010), faults=[Slowdown(1.0, 2.0, factor=5)])
    result = run_load(one_write, rate=20, duration=3.0, arrivals="even", actors=10**9, network=None,
                      capacity=capacity)
    station = result.station
    inside = station[(station["start"] >= 1.0) & (station["start"] < 2.0)]
    outside = station[(station["start"] < 1.0)]
    assert np.allclose(inside["service"], 0.050) and np.allclose(outside["service"], 0.010)


def test_service_times_can_differ_by_operation() -> None:
    capacity = Capacity(service={"read": Constant(0.001), "write": Constant(0.004)})
    result = run_contention(no_retry, writers=1, network=None, capacity=capacity)
    assert dict(zip(result.station["op"], result.station["service"], strict=True)) == pytest.approx(
        {"get_latest_version": 0.001, "save_event": 0.004})


def resend_after_timeout(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    """Save once; after a timeout wait, then re-send the *same* event (as an idempotent retry must)."""
    event = Event(actor_id=actor_id, event_type=event_type, version=store.get_latest_version(actor_id) + 1, data=data)
    for _ in range(5):
        try:
            store.save_event(event)
            return event
        except StoreTimeoutError:
            clock.sleep(0.1)
    raise RuntimeError("no attempt left")


def test_a_timed_out_write_still_commits_and_a_resend_is_a_no_op_success() -> None:
    # The first write meets a slowdown (50 ms, past the 25 ms timeout); the re-send, 100 ms later, does not.
    capacity = Capacity(service={"read": Constant(0.001), "write": Constant(0.005)},
                        faults=[Slowdown(0.0025, 0.01, 10)])
    network = NetworkModel(hop=Constant(0.001), timeout=0.025)
    result = run_contention(resend_after_timeout, writers=1, network=network, capacity=capacity)
    calls = result.calls[result.calls["op"] == "save_event"]
    assert list(calls["result"]) == ["timeout", "ok"]
    assert list(result.station["result"]) == ["ok", "ok", "duplicate"]  # the read, the write, the re-send
    assert result.station["abandoned"].tolist() == [False, True, False]
    assert len(result.store.get_events("actor-0")) == 1  # stored once
    assert result.summary().committed == 1 and result.summary().timeouts == 1
    # The timed-out write committed (not wasted); the acknowledged re-send stored nothing (wasted).
    assert result.summary().wasted_calls == 1


def test_a_timed_out_write_that_committed_is_neither_lost_nor_a_ghost() -> None:
    capacity = Capacity(service={"read": Constant(0.001), "write": Constant(0.030)})
    network = NetworkModel(hop=Constant(0.001), timeout=0.020)
    with pytest.warns(RuntimeWarning, match="StoreTimeoutError"):
        result = run_contention(no_retry, writers=1, network=network, capacity=capacity)  # verify_store passes
    assert result.saves["outcome"].tolist() == ["timeout"]
    assert len(result.store.get_events("actor-0")) == 1
    timeline = result.timeline(bin=0.1)
    assert timeline["commits"].sum() == pytest.approx(10.0) and timeline["goodput"].sum() == 0


def test_a_request_slower_than_the_timeout_still_reaches_the_store() -> None:
    network = NetworkModel(hop=Constant(0.050), timeout=0.020)
    with pytest.warns(RuntimeWarning):
        result = run_contention(no_retry, writers=1, network=network, capacity=Capacity(service=Constant(0.001)))
    assert result.calls["result"].tolist() == ["timeout"]
    assert result.calls["end"].tolist() == pytest.approx([0.020])
    assert result.station["arrive"].tolist() == pytest.approx([0.050])  # the read ran anyway, unseen


def test_outages_still_refuse_calls_under_capacity() -> None:
    network = NetworkModel(hop=Constant(0.001), outages=[Outage(0.0, 1.0)])
    with pytest.warns(RuntimeWarning):
        result = run_contention(no_retry, writers=2, network=network, capacity=Capacity(service=Constant(0.01)))
    assert set(result.calls["result"]) == {"unavailable"}
    assert result.station.empty  # nothing reached a server


# --------------------------------------------------------------------------- open loop and timeline


def test_even_arrivals_are_evenly_spaced() -> None:
    result = run_load(one_write, rate=10, duration=1.0, arrivals="even", actors=10**9, network=None)
    assert result.saves["start"].tolist() == pytest.approx([i / 10 for i in range(10)])


def test_poisson_arrivals_come_at_the_rate() -> None:
    result = run_load(one_write, rate=200, duration=50.0, actors=10**9, network=NetworkModel.instant(), seed=5)
    assert len(result.saves) == pytest.approx(10_000, rel=0.03)


def test_a_step_rate_changes_the_arrival_rate() -> None:
    result = run_load(one_write, rate=Step([(0, 100), (5, 300)]), duration=10.0, actors=10**9,
                      network=NetworkModel.instant(), seed=6)
    timeline = result.timeline(bin=5.0)
    assert timeline["offered"].iloc[:2].tolist() == pytest.approx([100, 300], rel=0.1)


def test_a_ramp_rate_rises_linearly() -> None:
    result = run_load(one_write, rate=Ramp(0, 400, start=0, end=10), duration=10.0, arrivals="even",
                      actors=10**9, network=NetworkModel.instant())
    timeline = result.timeline(bin=2.5)
    assert timeline["offered"].tolist() == pytest.approx([50, 150, 250, 350], rel=0.05)


def test_the_timeline_counts_every_call_and_every_save() -> None:
    result = run_load(immediate_retry, rate=300, duration=2.0, actors=3, seed=7,
                      capacity=Capacity(service=Exponential(0.002)))
    timeline = result.timeline(bin=0.25)
    assert (timeline["calls"] * 0.25).sum() == pytest.approx(len(result.calls))
    assert (timeline["offered"] * 0.25).sum() == pytest.approx(len(result.saves))
    committed = int((result.saves["outcome"] == "committed").sum())
    assert (timeline["goodput"] * 0.25).sum() == pytest.approx(committed)
    assert (timeline["commits"] * 0.25).sum() == pytest.approx(committed)  # no timeouts: every commit was told


def test_a_run_without_capacity_has_no_queue_figures() -> None:
    result = run_contention(no_retry, writers=3)
    summary = result.summary()
    assert math.isnan(summary.utilisation) and math.isnan(summary.mean_queue_wait)
    assert result.station.empty
    assert result.timeline(bin=0.01)["queue_depth"].isna().all()
    assert "utilisation" not in str(summary)


# --------------------------------------------------------------------------- determinism and compatibility


DIGEST_SCRIPT = textwrap.dedent("""\
    import hashlib
    from aether.experiment import Capacity, Exponential, NetworkModel, Slowdown, run_contention, run_load
    from aether.patterns import jitter_retry, immediate_retry
    cap = Capacity(workers=2, service=Exponential(0.003), queue_limit=20, faults=[Slowdown(0.05, 0.2, 3)])
    a = run_contention(jitter_retry, writers=40, seed=3, capacity=cap, network=NetworkModel(timeout=0.2))
    b = run_load(immediate_retry, rate=400, duration=1.0, actors=4, seed=3, capacity=cap)
    text = "".join(r.saves.to_csv() + r.calls.to_csv() + r.station.to_csv() for r in (a, b))
    print(hashlib.sha256(text.encode()).hexdigest())
""")


def test_runs_with_capacity_are_identical_in_fresh_interpreters() -> None:
    digests = {subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(hash_seed)}).stdout
               for hash_seed in (1, 2)}
    assert len(digests) == 1 and len(next(iter(digests)).strip()) == 64


def backoff(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any, rng: Any) -> Event:
    from aether import VersionConflictError

    for attempt in range(50):
        event = Event(actor_id=actor_id, event_type=event_type, version=store.get_latest_version(actor_id) + 1,
                      data=data)
        try:
            store.save_event(event)
            return event
        except VersionConflictError:
            clock.sleep(rng.uniform(0, 0.005 * 2**min(attempt, 8)))
    raise RuntimeError("no attempt left")


def frames_digest(result: Any) -> str:
    saves = result.saves.drop(columns=["pattern"])
    calls = result.calls.drop(columns=["pattern"])
    return hashlib.sha256((saves.to_csv() + calls.to_csv()).encode()).hexdigest()


def test_no_capacity_reproduces_the_results_from_before_capacity_existed() -> None:
    # Digests of these two runs as the harness produced them before the capacity model was added
    # (same seeds, same patterns): capacity=None must leave every committed result as it was.
    before = {
        "backoff": "1d06da292c99c34c94cbcf6fc69f787ac702b0479f4c187b7483bf657f15642d",
        "immediate": "b959c2ab3233da74258196ebf76fb23a8bf9bd4831f77728d073417c09c0092e",
    }
    runs = {
        "backoff": run_contention(backoff, writers=30, saves_per_writer=2, actors=2, seed=11),
        "immediate": run_contention(immediate_retry, writers=20, seed=12, network=NetworkModel(timeout=None)),
    }
    assert {name: frames_digest(run) for name, run in runs.items()} == before


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make", "error", "shown"),
    [
        (lambda: Capacity(workers=0, service=Constant(0.01)), ValueError, "0"),
        (lambda: Capacity(workers=1.5, service=Constant(0.01)), TypeError, "1.5"),
        (lambda: Capacity(service=0.01), TypeError, "0.01"),
        (lambda: Capacity(service=Constant(float("nan"))), ValueError, "nan"),
        (lambda: Capacity(service=Constant(-1)), ValueError, "-1"),
        (lambda: Capacity(service={"read": Constant(0.01), "wrte": Constant(0.01)}), ValueError, "wrte"),
        (lambda: Capacity(service={"read": Constant(0.01)}), ValueError, "write"),
        (lambda: Capacity(service=Constant(0.01), queue_limit=-1), ValueError, "-1"),
        (lambda: Capacity(service=Constant(0.01), faults=[Outage(0, 1)]), TypeError, "Outage"),
        (lambda: Slowdown(2.0, 1.0, 2), ValueError, "2.0"),
        (lambda: Slowdown(0.0, 1.0, 0), ValueError, "0"),
        (lambda: Slowdown(0.0, float("nan"), 2), ValueError, "nan"),
        (lambda: NetworkModel(timeout=0), ValueError, "0"),
        (lambda: NetworkModel(timeout=-1.0), ValueError, "-1.0"),
        (lambda: NetworkModel(outages=5), TypeError, "5"),
        (lambda: run_load(no_retry, rate=0, duration=1.0), ValueError, "0"),
        (lambda: run_load(no_retry, rate=float("inf"), duration=1.0), ValueError, "inf"),
        (lambda: run_load(no_retry, rate="fast", duration=1.0), TypeError, "fast"),
        (lambda: run_load(no_retry, rate=10, duration=0), ValueError, "0"),
        (lambda: run_load(no_retry, rate=10, duration=1.0, arrivals="bursty"), ValueError, "bursty"),
        (lambda: run_load(no_retry, rate=10**9, duration=10**3), ValueError, "callers"),
        (lambda: run_load(no_retry, rate=10, duration=1.0, capacity="big"), TypeError, "big"),
        (lambda: run_contention(no_retry, writers=2).timeline(bin=0), ValueError, "0"),
        (lambda: Step([(1, 10)]), ValueError, "0 s"),
        (lambda: Ramp(10, 20, start=2, end=1), ValueError, "2"),
    ],
)
def test_bad_load_settings_are_refused_before_anything_runs(make: Any, error: type[Exception], shown: str) -> None:
    with pytest.raises(error, match=shown.replace(".", r"\.")):
        make()


def test_real_sqlite_processes_refuse_an_emulated_capacity() -> None:
    with pytest.raises(ValueError, match="locking is the capacity"):
        run_contention(no_retry, writers=2, clock="real", store="sqlite", capacity=Capacity(service=Constant(0.01)))


@pytest.mark.slow
def test_real_threads_queue_behind_the_same_emulated_capacity() -> None:
    capacity = Capacity(service=Constant(0.020))
    result = run_contention(own_stream, writers=5, actors=5, clock="real", network=None, capacity=capacity)
    station = result.station
    assert len(station) == 5
    # One server: each call starts when the one before it ends (real sleeps overshoot a little).
    starts, ends = station["start"].to_numpy(), station["end"].to_numpy()
    assert np.all(starts[1:] >= ends[:-1] - 1e-9)
    assert result.summary().makespan >= 5 * 0.020


def test_overload_and_timeout_are_outages_to_the_patterns_that_retry_outages() -> None:
    assert issubclass(StoreOverloadedError, StoreUnavailableError)
    assert issubclass(StoreTimeoutError, StoreUnavailableError)


# --------------------------------------------------------------------------- wasted and abandoned, by hand


def fresh_write_after_timeout(store: Any, actor_id: str, event_type: str, data: Any = None, *,
                              clock: Any) -> Event:
    """Up to 3 attempts, each reading the version and writing a new event; a timeout starts the next at once."""
    for _ in range(3):
        event = Event(actor_id=actor_id, event_type=event_type, version=store.get_latest_version(actor_id) + 1)
        try:
            store.save_event(event)
            return event
        except (StoreTimeoutError, VersionConflictError):
            pass
    raise RetriesExhaustedError(actor_id, 3)


def test_wasted_calls_count_the_write_calls_that_stored_nothing() -> None:
    """One writer, 0.1 s timeout, 0.3 s writes, 3 attempts: 2 write calls stored nothing, by hand.

    Three servers, reads take no time, no network delay. Attempt 1 writes e1 at 0.0 (stored at 0.3,
    its caller gone at 0.1); attempt 2 reads version 0 at 0.1 and writes e2 (a conflict at 0.4);
    attempt 3 reads version 0 at 0.2 and writes e3 (a conflict at 0.5). Every write timed out,
    e1 was stored: 3 write calls, 1 stored an event, 2 wasted.
    """
    capacity = Capacity(workers=3, service={"read": Constant(0.0), "write": Constant(0.3)})
    network = NetworkModel(hop=Constant(0.0), timeout=0.1)
    result = run_contention(fresh_write_after_timeout, writers=1, network=network, capacity=capacity)
    writes = result.station[result.station["op"] == "save_event"]
    assert writes["result"].tolist() == ["ok", "conflict", "conflict"]
    assert writes["end"].tolist() == pytest.approx([0.3, 0.4, 0.5])
    summary = result.summary()
    assert (summary.write_calls, summary.timeouts, summary.gave_up) == (3, 3, 1)
    assert summary.wasted_calls == 2
    assert len(result.store.get_events("actor-0")) == 1


def test_a_call_served_in_time_whose_reply_arrives_late_is_abandoned() -> None:
    """10 ms hops, 50 ms timeout, 35 ms writes: sent at 21 ms, the write ends at 66 ms, its reply at 76 ms.

    The caller gives up at 21 + 50 = 71 ms, after the store finished (66 ms) and before the reply.
    The station marks
    the write abandoned; the write committed, so it is not wasted.
    """
    capacity = Capacity(service={"read": Constant(0.001), "write": Constant(0.035)})
    network = NetworkModel(hop=Constant(0.010), timeout=0.050)
    with pytest.warns(RuntimeWarning, match="StoreTimeoutError"):
        result = run_contention(no_retry, writers=1, network=network, capacity=capacity)
    assert result.station["op"].tolist() == ["get_latest_version", "save_event"]
    assert result.station["end"].tolist() == pytest.approx([0.011, 0.066])
    assert result.station["abandoned"].tolist() == [False, True]
    assert result.calls["result"].tolist() == ["ok", "timeout"]
    assert result.summary().wasted_calls == 0
    assert len(result.store.get_events("actor-0")) == 1
