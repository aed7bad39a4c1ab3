"""What a simulated run keeps alive: each writer's state goes when the writer ends, and no save leaves a cycle.

Speed and peak memory are measured in ``python -m bench``; these tests only pin
the behaviours that keep a run lean, with the runs' numbers unchanged.
"""

from __future__ import annotations

import copy
import functools
import gc
import pickle
import random
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aether import SimulatedClock
from aether.experiment import run_contention
from aether.experiment.spec import RandomStreams
from aether.patterns import jitter_retry


@pytest.fixture
def no_collector() -> Iterator[None]:
    """The garbage collector off, so only reference counting frees anything."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


DRAWS: dict[str, Callable[[random.Random], Any]] = {
    "random": lambda r: [r.random() for _ in range(5)],
    "gauss": lambda r: [r.gauss(1.0, 2.0) for _ in range(5)],
    "uniform": lambda r: [r.uniform(0.0, 3.0) for _ in range(5)],
    "expovariate": lambda r: [r.expovariate(2.0) for _ in range(5)],
    "randrange": lambda r: [r.randrange(1000) for _ in range(5)],
    "getrandbits": lambda r: [r.getrandbits(40) for _ in range(5)],
    "getstate": lambda r: r.getstate(),
    "deepcopy": lambda r: copy.deepcopy(r).random(),
    "pickle": lambda r: pickle.loads(pickle.dumps(r)).random(),
}


@pytest.mark.parametrize("first", sorted(DRAWS))
def test_a_patterns_stream_gives_the_numbers_of_its_seeded_random_whatever_draws_first(first: str) -> None:
    ours, reference = RandomStreams(7).pattern(3), random.Random("7/pattern/3")
    assert DRAWS[first](ours) == DRAWS[first](reference)
    assert type(ours) is random.Random
    assert [ours.gauss(0.0, 1.0) for _ in range(3)] == [reference.gauss(0.0, 1.0) for _ in range(3)]


def test_a_patterns_stream_reseeded_before_any_draw_follows_the_new_seed() -> None:
    stream = RandomStreams(7).pattern(3)
    stream.seed(5)
    assert stream.random() == random.Random(5).random()


class _Token:
    """An argument whose lifetime a weak reference can watch."""


def test_a_finished_simulated_task_releases_its_arguments(no_collector: None) -> None:
    clock = SimulatedClock()
    token = _Token()
    watch = weakref.ref(token)
    task = clock.spawn(lambda t: clock.sleep(0.5), token)
    del token
    clock.run()
    assert task.done()
    assert watch() is None


def test_a_contended_run_leaves_no_conflict_holding_its_patterns_frame(no_collector: None) -> None:
    pattern = functools.partial(jitter_retry, jitter="full", base_delay=0.005, max_delay=2.0)
    result = run_contention(pattern, writers=60, seed=0)
    assert result.summary().as_dict()["wasted_calls"] > 60  # the writers did conflict
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        kinds = {type(o).__name__ for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not kinds & {"frame", "traceback", "VersionConflictError", "LogicalSave"}
