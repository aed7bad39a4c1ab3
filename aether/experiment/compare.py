"""Every pattern on the same scenarios: one measured row per pattern, scenario and seed.

:func:`compare` is what chapter 10 stands on: a :class:`Scenario` is a named
set of :func:`~aether.experiment.run_load` settings (and, if it has a fault,
the time the fault ends), and each run is measured the same way, so a table
can put every pattern side by side. :func:`complexity` measures a pattern's
own source, so "complexity" is a number too.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from aether.checks import check_instance, check_int, check_items, check_seconds, check_text, show
from aether.experiment.harness import check_jobs, one_progress_bar, sweep_load
from aether.experiment.result import RunResult
from aether.experiment.spec import check_pattern

__all__ = ["Scenario", "compare", "complexity", "measure_run"]


@dataclass(frozen=True)
class Scenario:
    """A named workload: :func:`~aether.experiment.run_load` keyword arguments, and when its fault ends.

    ``settings`` must include ``rate`` and ``duration``; ``fault_end`` (seconds
    from the start) is where :meth:`~aether.experiment.result.RunResult.recovery_time`
    is measured from, ``None`` for a scenario without a fault.
    """

    name: str
    settings: Mapping[str, Any]
    fault_end: float | None = None
    description: str = ""
    bin: float = field(default=0.25)

    def __post_init__(self) -> None:
        check_text("Scenario.name", self.name)
        check_instance("Scenario.settings", self.settings, Mapping, "a mapping of run_load keyword arguments")
        check_text("Scenario.description", self.description, empty=True)
        for key in ("rate", "duration"):
            if key not in self.settings:
                raise ValueError(f"Scenario.settings needs {show(key)}; got {show(sorted(self.settings))}")
        if self.fault_end is not None:
            check_seconds("Scenario.fault_end", self.fault_end)
        check_seconds("Scenario.bin", self.bin, positive=True)


def measure_run(result: RunResult, *, fault_end: float | None = None, bin: float = 0.25) -> dict[str, Any]:  # noqa: A002
    """The comparison's measurements of one run, in the words of :class:`~aether.experiment.summary.RunSummary`.

    ``p50``/``p99``: latency of every save, as its caller waited; ``commit_delay_p99``:
    time until the event was stored (longer for a retry queue, whose callers do
    not wait); ``goodput``: committed saves per
    second of offered time; ``work``: store writes per committed save;
    ``failed``: saves that ended without their event, except refusals (gave up,
    rejected, past their deadline, dead-lettered, an error); ``refused``: saves the
    command refused; ``deadlines``: saves whose deadline passed; ``dead_letters``:
    deferred saves their queue gave up on;
    ``amplification``: the worst store calls per offered save in any bin;
    ``recovery``: seconds from the fault's end until goodput is back (NaN
    without a fault, ``inf`` if it never came back).
    """
    check_instance("result", result, RunResult, "a RunResult")
    if fault_end is not None:
        check_seconds("fault_end", fault_end)
    check_seconds("bin", bin, positive=True)
    saves = result.saves
    committed = int((saves["outcome"] == "committed").sum())
    writes = int((result.calls["op"] == "save_event").sum())
    duration = float(result.settings["duration"])
    commit_delay = saves["commit_delay"].dropna()
    return {
        "commit_delay_p99": float(commit_delay.quantile(0.99)) if len(commit_delay) else math.nan,
        "p50": float(saves["latency"].quantile(0.50)),
        "p99": float(saves["latency"].quantile(0.99)),
        "goodput": committed / duration,
        "committed_share": committed / len(saves) if len(saves) else math.nan,
        "work": writes / committed if committed else math.inf,
        "failed": int((~saves["outcome"].isin(["committed", "refused"])).sum()),
        "refused": int((saves["outcome"] == "refused").sum()),
        "deadlines": int((saves["outcome"] == "deadline").sum()),
        "dead_letters": int((saves["outcome"] == "dead_letter").sum()),
        "amplification": result.amplification(bin=bin),
        "recovery": result.recovery_time(fault_end, bin=bin) if fault_end is not None else math.nan,
    }


def _measure_for(scenario: Scenario) -> Callable[[RunResult], dict[str, Any]]:
    return functools.partial(measure_run, fault_end=scenario.fault_end, bin=scenario.bin)


def compare(patterns: Mapping[str, Any], scenarios: Sequence[Scenario], *, seeds: Sequence[int] = (0, 1, 2),
            jobs: int = 1, backend: str | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Run every pattern through every scenario for every seed; one measured row per run.

    The columns are the run's summary, the :func:`measure_run` figures and
    ``scenario``. With ``jobs=2`` runs go to two processes (see
    :func:`~aether.experiment.sweep_load`), and ``backend="dask"`` to a Dask
    cluster; the frame is the same either way. One progress bar, labelled
    with the patterns, scenarios and seeds, counts every run (``progress`` as
    for :func:`~aether.experiment.sweep`).
    """
    check_instance("patterns", patterns, Mapping, "a mapping of label to pattern")
    if not patterns:
        raise ValueError(f"patterns must name at least one pattern; got {show(patterns)}")
    for label, pattern in patterns.items():
        check_text("patterns (a label)", label)
        check_pattern(pattern, f"patterns[{show(label)}]")
    scenario_list = check_items("scenarios", scenarios, "a sequence of Scenario", empty=False)
    for i, scenario in enumerate(scenario_list):
        check_instance(f"scenarios[{i}]", scenario, Scenario, "a Scenario")
    seed_list = [check_int(f"seeds[{i}]", s, 0)
                 for i, s in enumerate(check_items("seeds", seeds, "a sequence of int seeds", empty=False))]
    check_jobs(jobs)
    frames = []
    total = len(patterns) * len(scenario_list) * len(seed_list)
    label = f"compare: {len(patterns)} pattern(s) x {len(scenario_list)} scenario(s) x {len(seed_list)} seed(s)"
    with one_progress_bar(total, label, progress):
        for scenario in scenario_list:
            settings = dict(scenario.settings)
            rate = settings.pop("rate")
            frame = sweep_load(patterns, rates=[rate], seeds=seed_list, jobs=jobs, measure=_measure_for(scenario),
                               backend=backend, **settings)
            frames.append(frame.assign(scenario=scenario.name))
    return pd.concat(frames, ignore_index=True)


def _function_of(pattern: Any, name: str = "pattern") -> Any:
    """The code whose source is the pattern: a partial's function, a function, or a class."""
    while isinstance(pattern, functools.partial):
        pattern = pattern.func
    if inspect.isfunction(pattern) or inspect.isclass(pattern):
        return pattern
    raise TypeError(f"{name} must be a function, a partial of one, or a class (give complexity() the code "
                    f"itself); got {show(pattern)} ({type(pattern).__name__})")


def _code_lines(obj: Any) -> int:
    source = textwrap.dedent(inspect.getsource(obj))
    doc_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            doc_lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return sum(1 for number, line in enumerate(source.splitlines(), start=1)
               if line.strip() and not line.strip().startswith("#") and number not in doc_lines)


_NOT_SETTINGS = {"self", "store", "actor_id", "event_type", "data", "clock", "rng", "name"}


def complexity(pattern: Any, *, helpers: Sequence[Any] = ()) -> dict[str, int]:
    """Lines of code and settings of a pattern's own source (docstrings, comments and blank lines excluded).

    *pattern* is the pattern's function (a :func:`functools.partial` of it is
    fine) or, for a pattern that is a class (a retry queue), the class;
    *helpers* are the other classes it needs (a breaker, a budget, a throttle),
    whose lines count too. ``parameters`` counts the settings a user can turn:
    the function's (or the class constructor's) parameters other than the
    store, the save's own arguments, the clock, the generator and a name.
    """
    target = _function_of(pattern)
    helper_list = [_function_of(helper, f"helpers[{i}]") for i, helper in
                   enumerate(check_items("helpers", helpers, "a sequence of classes or functions"))]
    lines = sum(_code_lines(obj) for obj in (target, *helper_list))
    signature = inspect.signature(target.__init__ if inspect.isclass(target) else target)
    settings = [name for name in signature.parameters if name not in _NOT_SETTINGS]
    return {"lines": lines, "parameters": len(settings)}
