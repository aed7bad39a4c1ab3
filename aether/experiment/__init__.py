"""The contention experiment: network model, recorder, harness, summaries."""

from aether.experiment.harness import (
    Bindable,
    Deferred,
    ExperimentInvariantError,
    RunContext,
    RunResult,
    pattern_name,
    run_contention,
    sweep,
    verify_store,
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
from aether.experiment.recorder import CallRecord, RecordingStore
from aether.experiment.summary import RunSummary, format_table

__all__ = [
    "AbsNormal",
    "Bindable",
    "CallRecord",
    "Constant",
    "Deferred",
    "Delay",
    "ExperimentInvariantError",
    "Exponential",
    "LatencySpike",
    "NetworkModel",
    "NetworkStore",
    "Outage",
    "RecordingStore",
    "RunContext",
    "RunResult",
    "RunSummary",
    "Uniform",
    "format_table",
    "pattern_name",
    "run_contention",
    "sweep",
    "verify_store",
]
