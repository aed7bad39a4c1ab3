"""Specification of the calibration: its arithmetic, its JSON, its checks, and real measurements in bounded time."""

from __future__ import annotations

import itertools
import json
import math
import random
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aether import Event, InMemoryEventStore, VersionConflictError
from aether.calibrate import (
    LOCK_HOLDS,
    SQLITE_BUSY_DELAYS,
    Calibration,
    Quantiles,
    busy_poll_times,
    calibrate,
    measure_service,
    next_busy_poll,
    reference_calibration,
    writers_at_once,
)
from aether.experiment import Capacity, Constant, Delay, NetworkModel, run_contention
from aether.patterns import immediate_retry

# --------------------------------------------------------------------------- a store with a known cost


class FakeTimer:
    """A clock that only moves when the fake store says a call took time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedStore:
    """An in-memory store whose calls take exactly 1 ms (read), 3 ms (commit) and 2 ms (conflict) on a FakeTimer."""

    def __init__(self, timer: FakeTimer) -> None:
        self.inner = InMemoryEventStore()
        self.timer = timer

    def get_latest_version(self, actor_id: str) -> int:
        self.timer.now += 0.001
        return self.inner.get_latest_version(actor_id)

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        return self.inner.get_events(actor_id, from_version)

    def save_event(self, event: Event) -> None:
        try:
            self.inner.save_event(event)
        except VersionConflictError:
            self.timer.now += 0.002
            raise
        self.timer.now += 0.003


def calibration(**changes: Any) -> Calibration:
    base = Calibration(
        read=Quantiles((0.00001, 0.00002)), write=Quantiles((0.00004, 0.00005, 0.0001)),
        conflict=Quantiles((0.00003, 0.00004)), write_fsync=Quantiles((0.002, 0.003, 0.010)),
        writers_at_once=1.1, concurrent_writers=2, lock_waits=((0.002, 0.0031), (0.005, 0.0082)),
        sleep_overshoot=Quantiles((0.00005, 0.0001, 0.001)), probe_sleep=0.002, start_skew=0.03,
        start_skew_threads=0.001, start_writers=20, machine={"system": "Linux", "cpus": 2, "load": 1.5})
    return replace(base, **changes)


# --------------------------------------------------------------------------- measuring a store


def test_measure_service_times_each_kind_of_call_on_its_own() -> None:
    timer = FakeTimer()
    figures = measure_service(TimedStore(timer), samples=25, timer=timer)
    assert figures["read"] == pytest.approx([0.001] * 25)
    assert figures["write"] == pytest.approx([0.003] * 25)
    assert figures["conflict"] == pytest.approx([0.002] * 25)


def test_measure_service_leaves_the_actor_gapless_with_one_commit_per_sample() -> None:
    timer = FakeTimer()
    store = TimedStore(timer)
    measure_service(store, samples=7, actor="order-7", timer=timer)
    assert [e.version for e in store.inner.get_events("order-7")] == list(range(1, 8))


def test_measure_service_refuses_a_store_without_optimistic_concurrency() -> None:
    class AcceptsAnything(InMemoryEventStore):
        def save_event(self, event: Event) -> None:
            pass

    with pytest.raises(ValueError, match="not an optimistic store"):
        measure_service(AcceptsAnything(), samples=1)


@pytest.mark.parametrize("samples", [0, -3])
def test_measure_service_needs_at_least_one_sample(samples: int) -> None:
    with pytest.raises(ValueError, match="samples"):
        measure_service(InMemoryEventStore(), samples=samples)


def test_writers_at_once_is_the_rate_together_over_the_rate_alone() -> None:
    assert writers_at_once(1000.0, [500.0, 520.0]) == pytest.approx(1.02)  # one at a time: a single lock
    assert writers_at_once(1000.0, [1000.0, 1000.0, 1000.0]) == pytest.approx(3.0)  # three at once


def test_writers_at_once_refuses_rates_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="lone"):
        writers_at_once(0.0, [1.0])
    with pytest.raises(ValueError, match="together"):  # the right type, an unusable value
        writers_at_once(1.0, [])
    with pytest.raises(TypeError, match="together"):
        writers_at_once(1.0, 5.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the busy handler


def test_busy_poll_times_follow_sqlites_default_busy_handler() -> None:
    polls = busy_poll_times()
    assert polls[:8] == pytest.approx([0, 0.001, 0.003, 0.008, 0.018, 0.033, 0.053, 0.078])
    assert polls[12] == pytest.approx(sum(SQLITE_BUSY_DELAYS))  # 328 ms, then every 100 ms
    assert polls[13] - polls[12] == pytest.approx(0.1)
    assert polls[-1] <= 5.0 < polls[-1] + 0.1


def test_a_waiter_gets_a_freed_lock_at_the_next_attempt_not_when_it_is_freed() -> None:
    assert next_busy_poll(0.0) == 0.0
    assert next_busy_poll(0.0005) == pytest.approx(0.001)
    assert next_busy_poll(0.002) == pytest.approx(0.003)
    assert next_busy_poll(0.004) == pytest.approx(0.008)
    assert next_busy_poll(0.008) == pytest.approx(0.008)
    assert next_busy_poll(6.0) == math.inf  # past the 5 s busy timeout: "database is locked"


def test_the_poll_schedule_of_a_huge_timeout_is_computed_in_closed_form_without_building_it() -> None:
    tracemalloc.start()
    try:
        polls = busy_poll_times(1e6)
        at = next_busy_poll(5e5, 1e6)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # bytes; building the 10M-entry list took 466 MB
    assert len(polls) == 10_000_009 and polls[-1] <= 1e6 < polls[-1] + 0.1
    assert polls[13] - polls[12] == pytest.approx(0.1) and polls[-2] == pytest.approx(polls[-1] - 0.1)
    assert at == pytest.approx(500_000.028)
    assert len(repr(polls)) < 120


def test_the_closed_form_schedule_is_the_busy_handlers_attempt_by_attempt() -> None:
    for timeout in (0.0, 0.0005, 0.003, 0.328, 0.4281, 5.0, 7.3):
        stepwise, t = [0.0], 0.0
        for delay in itertools.chain(SQLITE_BUSY_DELAYS, itertools.repeat(SQLITE_BUSY_DELAYS[-1])):
            t += delay
            if t > timeout + 1e-12:
                break
            stepwise.append(round(t, 6))
        assert list(busy_poll_times(timeout)) == stepwise
        for held in (0.0, 0.002, 0.33, timeout / 2, timeout):
            assert next_busy_poll(held, timeout) == min((p for p in stepwise if p >= held - 1e-12),
                                                        default=math.inf)


def test_the_measured_lock_holds_fall_between_the_first_attempts() -> None:
    expected = [next_busy_poll(h) for h in LOCK_HOLDS]
    assert expected == pytest.approx([0.001, 0.003, 0.008, 0.018])


# --------------------------------------------------------------------------- a measured distribution


def test_quantiles_of_samples_keep_every_percentile_and_the_extremes() -> None:
    q = Quantiles.of([i / 1000 for i in range(1001)])
    assert len(q.values) == 101
    assert q.values[0] == 0.0 and q.values[-1] == 1.0
    assert q.median == pytest.approx(0.5)
    assert q.quantile(0.9) == pytest.approx(0.9)


def test_quantiles_sample_within_their_range_with_the_stated_mean() -> None:
    q = Quantiles((0.001, 0.002, 0.010))
    rng = random.Random(3)
    draws = [q.sample(rng) for _ in range(40_000)]
    assert min(draws) >= 0.001 and max(draws) <= 0.010
    assert q.mean == pytest.approx((0.0015 + 0.006) / 2)
    assert sum(draws) / len(draws) == pytest.approx(q.mean, rel=0.02)


def test_quantiles_are_a_delay_for_service_times_and_hops() -> None:
    q = Quantiles((0.001, 0.002))
    assert isinstance(q, Delay)
    Capacity(service=q)
    NetworkModel(hop=q)
    assert q.shifted(0.002).values == pytest.approx((0.003, 0.004))


def test_a_single_sample_is_a_constant() -> None:
    q = Quantiles.of([0.004])
    assert q.sample(random.Random(0)) == 0.004 == q.mean


@pytest.mark.parametrize(("values", "error"), [
    ((0.001,), ValueError), ((0.002, 0.001), ValueError), ((-0.001, 0.001), ValueError),
    ((math.nan, 0.001), ValueError), (("1 ms", 0.001), TypeError), ("0.001", TypeError), (5.0, TypeError),
])
def test_quantiles_refuse_what_is_not_a_distribution(values: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="Quantiles"):
        Quantiles(values)


def test_quantiles_of_no_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        Quantiles.of([])


# --------------------------------------------------------------------------- the model it gives


def test_the_capacity_has_the_measured_service_times_and_one_server_per_writer_served_at_once() -> None:
    cal = calibration()
    capacity = cal.capacity
    assert isinstance(capacity, Capacity) and capacity.workers == 1
    assert capacity.service_of("read") is cal.read and capacity.service_of("write") is cal.write
    assert calibration(writers_at_once=2.6).capacity.workers == 3
    assert calibration(writers_at_once=0.4).capacity.workers == 1  # at least one server


def test_the_network_adds_the_measured_overshoot_to_every_real_hop() -> None:
    cal = calibration()
    network = cal.network(hop=0.002, think_time=Constant(0.001))
    assert isinstance(network.hop, Quantiles)
    assert network.hop.values == pytest.approx([0.002 + v for v in cal.sleep_overshoot.values])
    assert network.think_time == Constant(0.001)
    assert cal.network().hop == Constant(0.0)  # no hop: a real run sleeps nothing, so nothing overshoots


def test_fsync_is_what_full_durability_adds_to_a_write() -> None:
    assert calibration().fsync == pytest.approx(0.003 - 0.00005)


def test_a_calibrated_simulation_runs_and_is_exact() -> None:
    cal = reference_calibration()
    runs = [run_contention(immediate_retry, writers=10, capacity=cal.capacity, network=cal.network(hop=0.002),
                           seed=4).summary() for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].committed == 10


# --------------------------------------------------------------------------- keeping it


def test_json_round_trip_gives_back_the_same_calibration() -> None:
    cal = calibration()
    text = cal.to_json()
    assert json.loads(text)["format"] == 1
    assert Calibration.from_json(text) == cal
    assert Calibration.from_json(text.encode()) == cal


def test_the_reference_calibration_is_committed_with_the_package() -> None:
    cal = reference_calibration()
    assert Calibration.from_json(cal.to_json()) == cal
    assert cal.machine["sqlite"] and cal.machine["synchronous"] == "NORMAL"
    assert cal.read.median < cal.write.median < cal.write_fsync.median


@pytest.mark.parametrize(("mutate", "error", "match"), [
    (lambda d: "not json", ValueError, "not JSON"),
    (lambda d: json.dumps([1, 2]), TypeError, "JSON object"),
    (lambda d: json.dumps({**d, "format": 2}), ValueError, "format"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "write"}), ValueError, "missing"),
    (lambda d: json.dumps({**d, "colour": "blue"}), ValueError, "unknown"),
    (lambda d: json.dumps({**d, "write": 0.001}), TypeError, "write"),
    (lambda d: json.dumps({**d, "write": [0.002, 0.001]}), ValueError, "decrease"),
    (lambda d: json.dumps({**d, "writers_at_once": -1}), ValueError, "writers_at_once"),
    (lambda d: json.dumps({**d, "writers_at_once": "1"}), TypeError, "writers_at_once"),
    (lambda d: json.dumps({**d, "lock_waits": [[0.001]]}), TypeError, "lock_waits"),
    (lambda d: json.dumps({**d, "start_writers": 1}), ValueError, "start_writers"),
    (lambda d: json.dumps({**d, "machine": {"cpus": [2]}}), TypeError, "machine"),
])
def test_from_json_refuses_what_to_json_did_not_write(mutate: Any, error: type[Exception], match: str) -> None:
    data = calibration().as_dict()
    with pytest.raises(error, match=match):
        Calibration.from_json(mutate(data))


def test_from_json_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError, match="text"):
        Calibration.from_json({"format": 1})  # type: ignore[arg-type]


def test_the_figures_print_as_a_table_with_units() -> None:
    text = str(calibration())
    assert "Linux" in text and "2 CPUs" in text
    assert "write with fsync (FULL)" in text and "p50 3 ms" in text
    assert "1 worker(s)" in text
    assert "3.1 ms / 8.2 ms" in text and "3 ms / 8 ms" in text


# --------------------------------------------------------------------------- the real measurement


@pytest.mark.slow
def test_calibrate_measures_the_real_store_in_a_few_seconds(tmp_path: Path) -> None:
    start = time.perf_counter()
    cal = calibrate(tmp_path, samples=30, seconds=0.05, start_writers=3)
    took = time.perf_counter() - start
    assert took < 8.0  # about 1.5 s on a busy 2-core machine; bounded, whatever the load
    assert 0 < cal.read.median < 0.01 and 0 < cal.write.median < 0.05 and cal.conflict.median < 0.05
    assert cal.write_fsync.median > 0 and cal.writers_at_once > 0
    for held, waited in cal.lock_waits:
        assert waited >= held - 0.0001  # nobody gets a lock before it is freed
    handoffs = sorted(waited - held for held, waited in cal.lock_waits)
    assert handoffs[len(handoffs) // 2] > 0.0003  # and the lock stays free until the next attempt
    assert cal.sleep_overshoot.values[0] >= 0 and cal.start_writers == 3
    assert list(tmp_path.iterdir()) == []  # its databases are removed
    assert Calibration.from_json(cal.to_json()) == cal


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"samples": 0}, ValueError), ({"samples": "many"}, TypeError), ({"seconds": 0}, ValueError),
    ({"seconds": "1"}, TypeError), ({"concurrent": 1}, ValueError), ({"start_writers": 1}, ValueError),
    ({"probe_sleep": -0.001}, ValueError), ({"path": 3}, TypeError),
])
def test_calibrate_checks_its_parameters_before_measuring(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        calibrate(**kwargs)


def test_calibrate_refuses_a_phase_too_short_to_measure_before_measuring(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"seconds.*1e-06"):
        calibrate(tmp_path, seconds=1e-6)
    assert list(tmp_path.iterdir()) == []  # nothing was measured


@pytest.mark.parametrize(("timer", "error", "shown"), [
    (lambda: "t", TypeError, "'t'"),
    (lambda: math.nan, ValueError, "nan"),
    (lambda: True, TypeError, "True"),
    ("perf_counter", TypeError, "'perf_counter'"),
])
def test_measure_service_refuses_a_bad_timer_before_saving_anything(timer: Any, error: type[Exception],
                                                                     shown: str) -> None:
    store = InMemoryEventStore()
    with pytest.raises(error, match="timer") as caught:
        measure_service(store, samples=3, timer=timer)
    assert shown in str(caught.value)
    assert store.actor_ids() == []


def test_measure_service_refuses_a_timer_that_goes_back() -> None:
    readings = itertools.count(0.0, -1.0)
    with pytest.raises(ValueError, match="timer must not go back"):
        measure_service(InMemoryEventStore(), samples=3, timer=lambda: next(readings))


def test_measure_service_refuses_a_store_class_and_a_bad_actor_before_saving() -> None:
    with pytest.raises(TypeError, match="store.*InMemoryEventStore"):
        measure_service(InMemoryEventStore, samples=1)
    store = InMemoryEventStore()
    with pytest.raises(ValueError, match="actor"):
        measure_service(store, samples=1, actor="")
    assert store.actor_ids() == []


def test_calibrate_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="existing folder"):
        calibrate(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="existing folder"):
        calibrate(tmp_path / "file")
