"""The contention experiment: network model, recorder, runners, results, the store check.

* :mod:`~aether.experiment.harness`: :func:`run_contention` and :func:`sweep`, the entry points;
* :mod:`~aether.experiment.runners`: the writer loop and the three ways to run it;
* :mod:`~aether.experiment.result`: :class:`RunResult` and its tables;
* :mod:`~aether.experiment.summary`: :class:`RunSummary`, the headline numbers;
* :mod:`~aether.experiment.verify`: :func:`verify_store`;
* :mod:`~aether.experiment.network` and :mod:`~aether.experiment.recorder`: the wrappers
  around the store.
"""

from aether.contracts import Bindable, Deferred, Pattern, RunContext, pattern_name
from aether.experiment.arrivals import Ramp, Step
from aether.experiment.capacity import Capacity, Slowdown, StationRecord
from aether.experiment.compare import Scenario, compare, complexity, measure_run
from aether.experiment.harness import run_contention, run_load, sweep, sweep_load
from aether.experiment.libraries import (
    LIBRARY_GIVE_UPS,
    BlockingSleeps,
    BlockingSleepWarning,
    guard_blocking_sleeps,
    is_library_give_up,
)
from aether.experiment.network import (
    AbsNormal,
    Constant,
    Delay,
    Exponential,
    LatencySpike,
    NetworkModel,
    NetworkStore,
    Outage,
    Uniform,
)
from aether.experiment.recorder import CallRecord, RecordingStore, SaveRow
from aether.experiment.result import RunResult
from aether.experiment.summary import RunSummary
from aether.experiment.verify import ExperimentInvariantError, verify_store

__all__ = [
    "LIBRARY_GIVE_UPS",
    "AbsNormal",
    "BlockingSleepWarning",
    "BlockingSleeps",
    "Bindable",
    "CallRecord",
    "Capacity",
    "Constant",
    "Deferred",
    "Delay",
    "ExperimentInvariantError",
    "Exponential",
    "LatencySpike",
    "NetworkModel",
    "NetworkStore",
    "Outage",
    "Pattern",
    "Ramp",
    "RecordingStore",
    "RunContext",
    "RunResult",
    "RunSummary",
    "SaveRow",
    "Scenario",
    "Slowdown",
    "StationRecord",
    "Step",
    "Uniform",
    "compare",
    "complexity",
    "guard_blocking_sleeps",
    "is_library_give_up",
    "measure_run",
    "pattern_name",
    "run_contention",
    "run_load",
    "sweep",
    "sweep_load",
    "verify_store",
]
