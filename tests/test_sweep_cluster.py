"""Sweeps on a Dask cluster: the same call with ``backend="dask"`` returns exactly the sequential frame.

The cluster is a :class:`distributed.LocalCluster` of two worker processes on
this machine (one thread each, no dashboard), started once for the module and
closed after it; every run is small, so the module ends within seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pandas as pd
import pytest

from aether.experiment import Capacity, Exponential, Scenario, compare, sweep, sweep_load
from aether.patterns import jitter_retry, simple_retry

distributed = pytest.importorskip("distributed")

PATTERNS = {"simple": simple_retry, "full jitter": functools.partial(jitter_retry, jitter="full")}
CAPACITY = Capacity(service=Exponential(0.004))


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  host="127.0.0.1") as cluster, distributed.Client(cluster, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def test_sweep_on_a_dask_cluster_returns_exactly_the_sequential_frame(client: object) -> None:
    settings = {"writers": [4, 8], "seeds": [0, 1], "progress": False}
    on_cluster = sweep(PATTERNS, jobs=-1, backend="dask", **settings)
    pd.testing.assert_frame_equal(on_cluster, sweep(PATTERNS, **settings))


def test_sweep_load_on_a_dask_cluster_returns_exactly_the_sequential_frame(client: object) -> None:
    settings = {"rates": [50, 150], "seeds": [0, 1], "duration": 0.3, "capacity": CAPACITY, "progress": False}
    on_cluster = sweep_load(PATTERNS, backend="dask", jobs=-1, **settings)
    pd.testing.assert_frame_equal(on_cluster, sweep_load(PATTERNS, **settings))


def test_a_measure_runs_on_the_cluster_workers_and_its_columns_come_back(client: object) -> None:
    def busiest_writer(result: object) -> dict[str, int]:  # defined here: it travels by value (cloudpickle)
        return {"busiest": int(result.calls["writer"].value_counts().max())}  # type: ignore[attr-defined]

    settings = {"writers": [6], "seeds": [0, 1, 2], "measure": busiest_writer, "progress": False}
    on_cluster = sweep(PATTERNS, backend="dask", **settings)
    assert on_cluster["busiest"].tolist() == sweep(PATTERNS, **settings)["busiest"].tolist()
    assert (on_cluster["busiest"] >= 2).all()  # every writer reads before it writes


def test_compare_on_a_dask_cluster_returns_exactly_the_sequential_frame(client: object) -> None:
    scenarios = [Scenario("steady", {"rate": 100, "duration": 0.3, "capacity": CAPACITY}),
                 Scenario("busy", {"rate": 200, "duration": 0.3, "capacity": CAPACITY})]
    on_cluster = compare(PATTERNS, scenarios, seeds=[0], backend="dask", progress=False)
    pd.testing.assert_frame_equal(on_cluster, compare(PATTERNS, scenarios, seeds=[0], progress=False))


def test_jobs_1_on_the_dask_backend_still_runs_on_the_cluster(client: object) -> None:
    before = _tasks_run(client)
    frame = sweep(PATTERNS, writers=[3], seeds=[0, 1], backend="dask", progress=False)
    assert len(frame) == 4
    assert _tasks_run(client) > before


def _tasks_run(client: object) -> int:
    """How many tasks the cluster's workers have finished so far."""
    counts = client.run(lambda dask_worker: dask_worker.state.executed_count)  # type: ignore[attr-defined]
    return sum(counts.values())
