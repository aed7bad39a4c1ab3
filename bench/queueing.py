"""The store's capacity model: its cost in the harness, and its queue against an established simulator.

Two tables:

* **capacity cost**: write attempts per second of wall time for the same
  contention sweep with ``capacity=None`` and with a :class:`~aether.experiment.Capacity`
  (target: at least 0.8x, so that a lab that feels load stays fast);
* **against ciw**: the mean queueing delay and the throughput of an open-loop
  run on one and two servers (M/M/1 at utilisation 0.5 and 0.8, M/M/2 at 0.8),
  measured by the harness and by ciw (a discrete-event queueing-network
  simulator) with the same rates, next to the queueing formula.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

from bench.config import Sizes
from bench.report import Row, Table, at_least, fmt_rate, ratio

__all__ = ["run"]

MU = 100.0  # service rate of the queueing comparison: 10 ms per call


def _one_write(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
    from aether import Event

    event = Event(actor_id=actor_id, event_type=event_type, version=1, data=data)
    store.save_event(event)
    return event


def _attempts_per_second(capacity: Any, writers: int, seeds: tuple[int, ...]) -> float:
    from aether.experiment import run_contention
    from aether.patterns import jitter_retry

    attempts = 0
    started = time.perf_counter()
    for seed in seeds:
        result = run_contention(jitter_retry, writers=writers, seed=seed, capacity=capacity)
        attempts += result._records.op.count("save_event")
    return attempts / (time.perf_counter() - started)


def _capacity_cost(sizes: Sizes) -> Table:
    from aether.experiment import Capacity, Exponential

    writers, seeds = (50, (0, 1)) if not sizes.notebooks else (200, (0, 1, 2))
    capacity = Capacity(service={"read": Exponential(0.0005), "write": Exponential(0.001)})
    table = Table("queueing: the capacity model's cost, write attempts per second of wall time")
    ratios = []
    for _ in range(max(1, min(sizes.repeats, 3))):
        off = _attempts_per_second(None, writers, seeds)
        on = _attempts_per_second(capacity, writers, seeds)
        ratios.append(on / off)
    best = sorted(ratios)[len(ratios) // 2]
    table.add(Row.comparison(f"jitter_retry, {writers} writers x {len(seeds)} seeds: capacity on vs off",
                             fmt_rate(on), fmt_rate(off), f"{best:.2f}x", ">= 0.80x", at_least(best, 0.8)))
    table.note("the ratio is the median of interleaved repetitions (the rates shown are the last pair); the "
               "runs with capacity queue their calls, so they make a different number of attempts: the ratio "
               "compares the cost per attempt")
    return table


def _harness_queue(lam: float, workers: int, customers: int) -> tuple[float, float, float]:
    from aether.experiment import Capacity, Exponential, run_load

    started = time.perf_counter()
    result = run_load(_one_write, rate=lam, duration=customers / lam, actors=10**9, network=None, seed=1,
                      capacity=Capacity(workers=workers, service=Exponential(1 / MU)))
    wall = time.perf_counter() - started
    station = result.station
    horizon = float(station["end"].max())
    return float(station["wait"].mean()), len(station) / horizon, wall


def _ciw_queue(lam: float, workers: int, customers: int) -> tuple[float, float, float]:
    import ciw

    started = time.perf_counter()
    network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(rate=lam)],
                                 service_distributions=[ciw.dists.Exponential(rate=MU)],
                                 number_of_servers=[workers])
    ciw.seed(1)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(customers / lam)
    records = simulation.get_all_records()
    wall = time.perf_counter() - started
    horizon = max(r.exit_date for r in records)
    return sum(r.waiting_time for r in records) / len(records), len(records) / horizon, wall


def _theory(lam: float, workers: int) -> float:
    a = lam / MU
    top = a**workers / math.factorial(workers) * workers / (workers - a)
    erlang_c = top / (sum(a**k / math.factorial(k) for k in range(workers)) + top)
    return erlang_c / (workers * MU - lam)


def _against_ciw(sizes: Sizes) -> Table:
    customers = 5_000 if not sizes.notebooks else 40_000
    table = Table(f"queueing: the queue against ciw, mean wait and throughput, {customers:,} customers each")
    try:
        import ciw  # noqa: F401
    except ImportError:
        table.note("ciw is not installed (pip install -e \".[bench]\"): comparison skipped")
        return table
    for label, lam, workers in (("M/M/1, rho 0.5", 0.5 * MU, 1), ("M/M/1, rho 0.8", 0.8 * MU, 1),
                                ("M/M/2, rho 0.8", 1.6 * MU, 2)):
        ours_wait, ours_rate, ours_wall = _harness_queue(lam, workers, customers)
        ciw_wait, ciw_rate, ciw_wall = _ciw_queue(lam, workers, customers)
        theory = _theory(lam, workers)
        table.add(Row.comparison(f"{label}: mean wait (theory {theory * 1000:.2f} ms)",
                                 f"{ours_wait * 1000:.2f} ms", f"{ciw_wait * 1000:.2f} ms",
                                 ratio(ours_wait, ciw_wait)))
        table.add(Row.comparison(f"{label}: throughput (offered {lam:g}/s)", f"{ours_rate:.1f}/s",
                                 f"{ciw_rate:.1f}/s", ratio(ours_rate, ciw_rate)))
        table.add(Row.comparison(f"{label}: customers per second of wall time", fmt_rate(customers / ours_wall),
                                 fmt_rate(customers / ciw_wall), ratio(ciw_wall, ours_wall)))
    table.note("both simulators are seeded but draw differently, so their waits differ by sampling noise, "
               "which at utilisation 0.8 is tens of percent for a few thousand customers and a few percent "
               "for tens of thousands (the formula is Erlang C; tests/test_capacity.py holds the harness to it)")
    return table


def run(sizes: Sizes) -> Iterator[Table]:
    """The two tables of this section."""
    yield _capacity_cost(sizes)
    yield _against_ciw(sizes)
