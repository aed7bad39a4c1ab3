"""The same runs give the same tables: digests of simulated runs across patterns, capacities and faults.

Each run below is fixed (pattern, settings, seed); its saves, calls and station
tables are reduced to a SHA-256 of :func:`pandas.util.hash_pandas_object` (values,
index, column names and dtypes). The expected digests were computed once, on
the code before the experiment's structure was rebuilt (the last three runs, which
cover the network's other hop paths, on the code before calls were recorded column
by column), and must not change
when code is reorganised: a changed digest means a run now behaves differently.

Where a word was renamed on purpose, the table is mapped back to the old word
before hashing (see :func:`_as_before`), so the digest still compares behaviour:

* the station table is hashed without its ``abandoned`` column, whose definition was
  fixed (it now also marks a call the store finished in time whose reply reached the
  caller after its timeout; tested on hand-countable runs in ``test_capacity.py``);
* the save outcome ``"failed"`` (an error the pattern let through) is now the
  error's own word: ``"error"``, or ``"timeout"`` / ``"overloaded"`` /
  ``"unavailable"`` for a store error; all map back to ``"failed"``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

import pandas as pd
import pytest

from aether.experiment import (
    Capacity,
    Constant,
    Exponential,
    LatencySpike,
    NetworkModel,
    Outage,
    RunResult,
    Slowdown,
    Uniform,
    run_contention,
    run_load,
)
from aether.patterns import CircuitBreakerPolicy, QueuedWrites, jitter_retry, retry_on_failure, simple_retry

#: Save outcomes renamed since the digests were taken, mapped to the word they replaced.
_OLD_OUTCOME = {"error": "failed", "timeout": "failed", "overloaded": "failed", "unavailable": "failed"}


def _as_before(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The table with renamed words mapped back to the words the digests were taken with."""
    if name == "saves":
        frame = frame.assign(outcome=frame["outcome"].map(lambda o: _OLD_OUTCOME.get(o, o)).astype(object))
    if name == "station":
        frame = frame.drop(columns=["abandoned"])
    return frame


def _digest(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr(list(frame.columns)).encode())
    h.update(repr([str(t) for t in frame.dtypes]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()[:24]


def _digests(result: RunResult) -> dict[str, str]:
    return {name: _digest(_as_before(name, getattr(result, name))) for name in ("saves", "calls", "station")}


_FAST = Capacity(workers=1, service=Exponential(0.004))
_THREE = Capacity(workers=3, service={"read": Exponential(0.001), "write": Exponential(0.006)}, queue_limit=4,
                  faults=[Slowdown(0.05, 0.15, 4.0)])

RUNS: dict[str, Callable[[], RunResult]] = {
    "simple_retry, no capacity": lambda: run_contention(simple_retry, writers=12, saves_per_writer=2, seed=3),
    "jitter_retry, 1 server": lambda: run_contention(jitter_retry, writers=15, capacity=_FAST, seed=4),
    "jitter_retry, 3 servers, queue_limit, slowdown": lambda: run_contention(
        functools.partial(jitter_retry, max_attempts=8), writers=20, actors=3, capacity=_THREE, seed=5),
    "simple_retry, outage, spread starts": lambda: run_contention(
        simple_retry, writers=10, saves_per_writer=3, actors=2, start_spread=0.2, seed=6,
        network=NetworkModel(outages=[Outage(0.05, 0.12)], spikes=[LatencySpike(0.0, 0.05, 0.02)])),
    "retry_on_failure, timeouts that commit": lambda: run_contention(
        functools.partial(retry_on_failure, max_attempts=3), writers=4, seed=7, capacity=Capacity(
            service=Constant(0.03)), network=NetworkModel(timeout=0.05)),
    "circuit breaker policy, outage": lambda: run_contention(
        CircuitBreakerPolicy(failure_threshold=3, reset_timeout=0.05), writers=8, saves_per_writer=3, actors=4,
        start_spread=0.3, seed=8, network=NetworkModel(outages=[Outage(0.05, 0.2)])),
    "retry queue, 1 server": lambda: run_contention(QueuedWrites(), writers=10, capacity=_FAST, seed=9),
    "open loop, jitter, 1 server": lambda: run_load(jitter_retry, rate=150, duration=0.6, actors=5,
                                                    capacity=_FAST, seed=10),
    "open loop, simple, 3 servers, timeout, outage": lambda: run_load(
        simple_retry, rate=300, duration=0.5, actors=20, capacity=_THREE, seed=11, arrivals="even",
        network=NetworkModel(timeout=0.04, outages=[Outage(0.2, 0.25)])),
    "open loop, breaker, failure rate": lambda: run_load(
        CircuitBreakerPolicy(), rate=80, duration=0.5, actors=3, seed=12,
        network=NetworkModel(failure_rate=0.2)),
    "jitter_retry, uniform hops, think time": lambda: run_contention(
        jitter_retry, writers=12, saves_per_writer=2, seed=13,
        network=NetworkModel(hop=Uniform(0.002, 0.02), think_time=Exponential(0.003))),
    "simple_retry, instant network, 1 server": lambda: run_contention(
        simple_retry, writers=9, capacity=_FAST, seed=14, network=NetworkModel.instant()),
    "simple_retry, no network": lambda: run_contention(simple_retry, writers=7, network=None, seed=15),
}

EXPECTED: dict[str, dict[str, str]] = {
    'circuit breaker policy, outage': {
        'saves': '94dba5f00560a89a669936eb', 'calls': '5f6e44b78832070bed78e941',
        'station': '792835325e327f47b66c8391'},
    'jitter_retry, 1 server': {
        'saves': 'ffbcb4b34d9e171e273fc411', 'calls': '893e735c4f130354c790e8f6',
        'station': '7898d0dfc553e0d9647384d6'},
    'jitter_retry, 3 servers, queue_limit, slowdown': {
        'saves': '5f2a6001d1f8c1ee0e85ea15', 'calls': 'd4d100a0955cebc67ead9614',
        'station': '3c5d9d08019374601f3ddf0c'},
    'open loop, breaker, failure rate': {
        'saves': 'd8b02f1df19e16bd54be4476', 'calls': 'd744f6fcf073a315bcc1f74d',
        'station': '792835325e327f47b66c8391'},
    'open loop, jitter, 1 server': {
        'saves': '856ab44dc4599c296cb917e7', 'calls': 'ac182a4a20c524a6ebf7fc21',
        'station': 'd869016d486ddba6361a7842'},
    'open loop, simple, 3 servers, timeout, outage': {
        'saves': 'd82cfee6489c9eba5fd66f7b', 'calls': 'bef1a42ac1f4a35c0fda893c',
        'station': '96cab99a41c2c650ada75e4d'},
    'retry queue, 1 server': {
        'saves': '6944999bb53f50d6be2ee4c4', 'calls': 'ec29c7303934c25c2a1ceb74',
        'station': '7939aeb1b855db37ca6ad20b'},
    'retry_on_failure, timeouts that commit': {
        'saves': '21bad096fc5db2ad16972b01', 'calls': '119ff3fe22de218e75fd72f1',
        'station': '737f3621f0d82958cd857c55'},
    'simple_retry, no capacity': {
        'saves': 'dfbed35756b7e9930a3bf777', 'calls': 'f5b55561fe92990c76141939',
        'station': '792835325e327f47b66c8391'},
    'jitter_retry, uniform hops, think time': {
        'saves': '1833bd880173431436e9ed6c', 'calls': 'a9f5da15bf7df368c6b999ef',
        'station': '792835325e327f47b66c8391'},
    'simple_retry, instant network, 1 server': {
        'saves': 'd9d8c63763fdbdf560ae1638', 'calls': '082c4a6e41727a648f3c6fe5',
        'station': '4a49059712951be5e5d550b9'},
    'simple_retry, no network': {
        'saves': '3a6b23b5fa9ab50b55a6004b', 'calls': 'e6a500024d2107e47dee9a9c',
        'station': '792835325e327f47b66c8391'},
    'simple_retry, outage, spread starts': {
        'saves': '9db2e3db65c59191c436ef29', 'calls': '6b4310b71291e43420deda27',
        'station': '792835325e327f47b66c8391'},
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_run_tables_are_unchanged(name: str) -> None:
    assert _digests(RUNS[name]()) == EXPECTED[name]


def _print_expected() -> None:  # pragma: no cover - how EXPECTED was made
    for name in sorted(RUNS):
        print(f"    {name!r}: {_digests(RUNS[name]())!r},")




def _summary_digest(result: RunResult) -> str:
    """The run's headline numbers, every float to the last bit (repr), reduced to a digest."""
    return hashlib.sha256(repr(sorted(result.summary().as_dict().items())).encode()).hexdigest()[:24]


def _timeline_digest(result: RunResult) -> str:
    return _digest(result.timeline(0.05))


#: Digests of each run's summary and timeline, computed on the code before calls and the store's
#: records were kept column by column.
EXPECTED_SUMMARY: dict[str, tuple[str, str]] = {
    'circuit breaker policy, outage': ('1cb55e2b928e6b1693470cff', 'bb22e9a997a258382b6c036a'),
    'jitter_retry, 1 server': ('381a89c055d294eb1eaf11d8', '400d9a6ee8f90796c5964b7f'),
    'jitter_retry, 3 servers, queue_limit, slowdown': ('731b8841b9d88029ee275332', '2fa4ec2e06df029770e3c9ef'),
    'jitter_retry, uniform hops, think time': ('0710b7f87a2122e625fc671a', '38cd62e3ad97a2ee8c97daa8'),
    'open loop, breaker, failure rate': ('1f1c62458cea5d1f2dc9edcb', '214f48895b0e11edcc3f8688'),
    'open loop, jitter, 1 server': ('9699ba0855e8e800d4283455', '8719e391949d057e18865380'),
    'open loop, simple, 3 servers, timeout, outage': ('121cd5cff6736ba3fbee643d', 'd0440019e3cff964e08c531a'),
    'retry queue, 1 server': ('3a7ba3b531a3cd1bc5c3bbd3', 'af75c73e433fd8c0b4b93f9d'),
    'retry_on_failure, timeouts that commit': ('455f59c3b0ec00532e7a3634', '7ebf16b582b6d764dac3c174'),
    'simple_retry, instant network, 1 server': ('e10ffbf506815242f058e0ab', '0e4f47274b966255f15db659'),
    'simple_retry, no capacity': ('8bca8f8501dc5840e3a0b2e7', '42acaeab425ca9bff9579aac'),
    'simple_retry, no network': ('dd89d356dbfd3e619733b07b', 'e44a419db9478cca10c46662'),
    'simple_retry, outage, spread starts': ('2f2a4c956359b7406aa5dd3a', '83de76fafe6c75697035f4d6'),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_run_summaries_and_timelines_are_unchanged(name: str) -> None:
    result = RUNS[name]()
    assert (_summary_digest(result), _timeline_digest(result)) == EXPECTED_SUMMARY[name]


if __name__ == "__main__":  # pragma: no cover
    _print_expected()
