"""The contention experiment: network model, recorder, runners, results, the store check.

* :mod:`~aether.experiment.harness`: :func:`run_contention`, :func:`run_load`, :func:`sweep`,
  :func:`sweep_load` and :func:`run_spec`, the entry points;
* :mod:`~aether.experiment.spec`: :class:`RunSpec` (a run's settings in one object, with its
  :class:`ClosedLoop` or :class:`OpenLoop` workload) and the seed's named random streams;
* :mod:`~aether.experiment.outcomes`: one word per result, and :func:`outcome_of`, the one classifier;
* :mod:`~aether.experiment.writer`: the writer loop; :mod:`~aether.experiment.runners`: greenlets
  and threads; :mod:`~aether.experiment.pipes`: real processes and their pipe protocol;
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
from aether.experiment.delays import TimeWindow as TimeWindow
from aether.experiment.harness import run_contention, run_load, sweep, sweep_load
from aether.experiment.harness import run_spec as run_spec
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
from aether.experiment.outcomes import outcome_of as outcome_of
from aether.experiment.recorder import CallRecord, RecordingStore, SaveRow
from aether.experiment.result import RunResult
from aether.experiment.spec import ClosedLoop as ClosedLoop
from aether.experiment.spec import OpenLoop as OpenLoop
from aether.experiment.spec import RunSpec as RunSpec
from aether.experiment.summary import RunSummary
from aether.experiment.verify import ExperimentInvariantError, verify_store

# Importable from here, and not yet in __all__ (every name there is re-exported from the top level,
# whose public face is being settled): ClosedLoop, OpenLoop, RunSpec, run_spec, TimeWindow, outcome_of.
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
