"""The contention experiment: run a pattern against a store that feels load, and read the results.

Three groups, as a user meets them:

Running
    :func:`run_contention` (closed loop: N writers x M saves on hot actors),
    :func:`run_load` (open loop: saves arriving at a rate), :func:`sweep` and
    :func:`sweep_load` (the same over writer counts, rates, seeds and patterns,
    in parallel when asked), :func:`compare` with :class:`Scenario`; and
    :class:`RunSpec` with its :class:`ClosedLoop` / :class:`OpenLoop` workload
    and :func:`run_spec`, a run's settings in one validated object.

The world a run happens in
    Store speeds come from named profiles: :class:`StoreProfile`,
    :func:`profile` and :data:`LAPTOP_SQLITE`, :data:`SQLITE_FSYNC`,
    :data:`SERVER_DB` (each gives the :class:`Capacity` and the
    :class:`NetworkModel` a chapter uses; ``scaled(..., reason=...)`` changes a
    speed with a stated reason). Delays: :class:`Constant`, :class:`Uniform`,
    :class:`Exponential`, :class:`AbsNormal`, :class:`Delay`. Faults and load
    shapes: :class:`Outage`, :class:`LatencySpike`, :class:`Slowdown` (all
    :class:`TimeWindow`), :class:`Ramp`, :class:`Step`. The wrappers a run puts
    around the store: :class:`NetworkStore`, :class:`RecordingStore`.

Results
    :class:`RunResult` (tidy tables: one row per save, per store call, per
    queued call), :class:`RunSummary`, :func:`measure_run`,
    :func:`outcome_of` (the one word per result), :class:`CallRecord`,
    :class:`SaveRow`, :class:`StationRecord`, :func:`verify_store` and
    :class:`ExperimentInvariantError`, :func:`complexity`; the production
    libraries' give-ups (:data:`LIBRARY_GIVE_UPS`, :func:`is_library_give_up`)
    and :func:`guard_blocking_sleeps`.

What patterns and the experiment share (:class:`Pattern`, :class:`Bindable`,
:class:`Deferred`, :class:`RunContext`, :func:`pattern_name`) lives in
:mod:`aether.contracts` and is re-exported here.
"""

from typing import Any

from aether.contracts import Bindable, Deferred, Pattern, RunContext, pattern_name
from aether.experiment.arrivals import Ramp, Step
from aether.experiment.capacity import Capacity, Slowdown, StationRecord
from aether.experiment.compare import Scenario, compare, complexity, measure_run
from aether.experiment.delays import TimeWindow
from aether.experiment.harness import run_contention, run_load, run_spec, sweep, sweep_load
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
from aether.experiment.outcomes import outcome_of
from aether.experiment.profiles import Scaled, StoreProfile, measure_fsync, profile
from aether.experiment.recorder import CallRecord, RecordingStore, SaveRow
from aether.experiment.result import RunResult
from aether.experiment.spec import ClosedLoop, OpenLoop, RunSpec
from aether.experiment.summary import RunSummary
from aether.experiment.verify import ExperimentInvariantError, verify_store

#: The named profiles, built on first use (they read the committed calibrations).
_PROFILE_NAMES = ("LAPTOP_SQLITE", "SQLITE_FSYNC", "SERVER_DB", "PROFILES")


def __getattr__(name: str) -> Any:
    """Load a named store profile on first use (PEP 562): importing them eagerly would be circular."""
    if name in _PROFILE_NAMES:
        from aether.experiment import profiles

        return getattr(profiles, name)
    raise AttributeError(f"module 'aether.experiment' has no attribute {name!r}")


__all__ = [
    "ClosedLoop",
    "OpenLoop",
    "RunSpec",
    "run_spec",
    "TimeWindow",
    "outcome_of",
    "Scaled",
    "StoreProfile",
    "measure_fsync",
    "profile",
    "LAPTOP_SQLITE",
    "SQLITE_FSYNC",
    "SERVER_DB",
    "PROFILES",
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
