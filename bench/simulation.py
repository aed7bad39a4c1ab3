"""Simulation speed: our contention harness against SimPy and a bare event heap, on the same sweep.

The sweep is the classic one: writers 10, 20, ... 100, one save each on one
actor, :func:`~aether.patterns.jitter_retry` with ``jitter="none"`` and
``"full"`` (5 ms base, 2 s cap), several seeds. Our side is the real thing:
:func:`~aether.experiment.run_contention` with its default network, the
in-memory store, the recorder, the pattern code and both result tables
(``result.saves`` and ``result.calls``, built inside the timed span). The
figure is *simulated write attempts* (``save_event`` calls) per second of
wall time. The same minimal model is also run as plain functions on our
:class:`~aether.clock.SimulatedClock`, to tell the clock's own cost apart, and
as ``async def`` coroutines on an asyncio loop with looptime's virtual clock,
the other way to run unmodified application code in simulated time.

The implementations must agree, or the speed comparison means nothing: the
section prints the mean write attempts per configuration of each and checks
they are within 10 %, and checks that the bare simulator, fed the harness's
own random streams, reproduces the harness run by run.
"""

from __future__ import annotations

import cProfile
import functools
import pstats
import random
import statistics
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aether.experiment import AbsNormal, NetworkModel, run_contention
from aether.patterns.jitter import Jitter, jitter_retry
from bench.config import Sizes
from bench.models import (
    LOOPTIME_DEFAULT_NOOP_CYCLES,
    ContentionModel,
    Outcome,
    bare_contention,
    clock_contention,
    looptime_available,
    looptime_contention,
    simpy_available,
    simpy_contention,
)
from bench.report import Row, Table, at_least, fmt_rate, ratio
from bench.timing import Contender, interleave, rotated

__all__ = ["Config", "configurations", "harness_model", "run", "run_harness", "sweep_pattern"]

JITTERS: tuple[Jitter, ...] = ("none", "full")
BASE_DELAY = 0.005
MAX_DELAY = 2.0
AGREEMENT_TOLERANCE = 0.10
TARGET_RATE = 100_000
#: The end-to-end sweep against SimPy, this round (0.40x the round before, 0.32x before that).
TARGET_VS_SIMPY = 0.45

AETHER = "aether"
AETHER_SIM = "aether (simulation only)"
SIMPY = "SimPy"
BARE = "bare heapq"
CLOCK = "SimulatedClock, minimal"
LOOPTIME = "asyncio + looptime"

_MODELS: dict[str, Callable[[int, int, ContentionModel], Outcome]] = {
    SIMPY: simpy_contention,
    BARE: bare_contention,
    CLOCK: clock_contention,
    LOOPTIME: looptime_contention,
}
#: Who needs an optional library, and the check that says whether it is installed.
_OPTIONAL: dict[str, Callable[[], bool]] = {SIMPY: simpy_available, LOOPTIME: looptime_available}


@dataclass(frozen=True)
class Config:
    """One run of the sweep."""

    jitter: Jitter
    writers: int
    seed: int


def configurations(sizes: Sizes) -> list[Config]:
    """Every (jitter, writers, seed) of the sweep, in sweep order."""
    return [Config(j, w, s) for j in JITTERS for w in sizes.sweep_writers for s in sizes.sweep_seeds]


def harness_model(jitter: str) -> ContentionModel:
    """The model parameters our harness runs with by default (its network's hop distribution)."""
    hop = NetworkModel().hop
    if not isinstance(hop, AbsNormal):
        raise TypeError(f"the default network hop is no longer |N(mu, sigma)| ({hop!r}); update the models")
    return ContentionModel(jitter=jitter, base_delay=BASE_DELAY, max_delay=MAX_DELAY, hop_mu=hop.mu,
                           hop_sigma=hop.sigma)


@functools.cache
def sweep_pattern(jitter: Jitter) -> Callable[..., Any]:
    """The pattern the sweep runs: :func:`jitter_retry` with *jitter*, 5 ms base, 2 s cap."""
    return functools.partial(jitter_retry, jitter=jitter, base_delay=BASE_DELAY, max_delay=MAX_DELAY)


@dataclass(frozen=True)
class HarnessRun:
    """One :func:`run_contention`: wall seconds end to end, seconds in the simulation, write attempts."""

    seconds: float
    simulation_seconds: float
    attempts: int


def run_harness(config: Config) -> HarnessRun:
    """Run one configuration through :func:`run_contention`, build both result tables, count the write attempts.

    The timed span ends after ``result.saves`` and ``result.calls`` exist (they
    are built on first use), since a reader of a run always looks at them.
    """
    start = time.perf_counter()
    result = run_contention(sweep_pattern(config.jitter), writers=config.writers, seed=config.seed)
    saves, calls = result.saves, result.calls
    seconds = time.perf_counter() - start
    attempts = int((calls["op"] == "save_event").sum())
    if len(saves) != config.writers:
        raise AssertionError(f"{config}: the saves table has {len(saves)} rows, not one per writer")
    return HarnessRun(seconds, result.wall_seconds, attempts)


def _run_model(simulate: Callable[[int, int, ContentionModel], Outcome], config: Config) -> tuple[float, int]:
    model = harness_model(config.jitter)
    start = time.perf_counter()
    outcome = simulate(config.writers, config.seed, model)
    return time.perf_counter() - start, outcome.attempts


# --------------------------------------------------------------------------- the interleaved sweep


@dataclass
class _Tally:
    """Seconds and write attempts of one simulator: totals per repetition, attempts per configuration."""

    seconds: list[float] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    by_config: dict[Config, int] = field(default_factory=dict)

    def rate(self) -> float:
        """Median over repetitions of write attempts per second."""
        return statistics.median(a / s for a, s in zip(self.attempts, self.seconds, strict=True))

    def spread(self) -> float:
        """(max - min) / median of the per-repetition rates."""
        rates = [a / s for a, s in zip(self.attempts, self.seconds, strict=True)]
        return (max(rates) - min(rates)) / statistics.median(rates)


def _sweep(configs: Sequence[Config], repeats: int) -> dict[str, _Tally]:
    """Run every configuration with every simulator, *repeats* times, rotating who goes first."""
    names = [AETHER, BARE, CLOCK] + [name for name, available in _OPTIONAL.items() if available()]
    tallies = {name: _Tally() for name in [*names, AETHER_SIM]}
    for repetition in range(repeats):
        seconds = dict.fromkeys(tallies, 0.0)
        attempts = dict.fromkeys(tallies, 0)
        for index, config in enumerate(configs):
            for name in rotated(names, repetition + index):
                if name == AETHER:
                    run = run_harness(config)
                    done = {AETHER: (run.seconds, run.attempts), AETHER_SIM: (run.simulation_seconds, run.attempts)}
                else:
                    done = {name: _run_model(_MODELS[name], config)}
                for key, (secs, count) in done.items():
                    seconds[key] += secs
                    attempts[key] += count
                    tallies[key].by_config[config] = count
        for key, tally in tallies.items():
            tally.seconds.append(seconds[key])
            tally.attempts.append(attempts[key])
    return tallies


def _versus(label: str, mine: _Tally, other: _Tally | None, other_name: str,
            target: tuple[float, bool, str] | None = None) -> Row:
    """A row comparing two simulators' rates; *target* is (minimum ratio, strictly, label)."""
    if other is None:
        return Row.comparison(f"{label} vs {other_name}", fmt_rate(mine.rate()), "skipped: not installed")
    value = mine.rate() / other.rate()
    return Row.comparison(f"{label} vs {other_name}", fmt_rate(mine.rate()), fmt_rate(other.rate()),
                          ratio(mine.rate(), other.rate()), target[2] if target else "",
                          at_least(value, target[0], strictly=target[1]) if target else "")


def _speed_table(tallies: dict[str, _Tally], configs: Sequence[Config], sizes: Sizes) -> Table:
    table = Table(f"simulation: contention sweep, {len(configs)} runs (writers {_span(sizes.sweep_writers)}, "
                  f"{len(sizes.sweep_seeds)} seeds, jitter none/full), simulated write attempts per second, "
                  f"median of {sizes.sweep_repeats}")
    ours, sim_only, bare, clock = tallies[AETHER], tallies[AETHER_SIM], tallies[BARE], tallies[CLOCK]
    simpy, aio = tallies.get(SIMPY), tallies.get(LOOPTIME)
    vs_simpy = (TARGET_VS_SIMPY, False, f">= {TARGET_VS_SIMPY:.2f}x")
    table.add(Row.comparison("run_contention end to end (absolute)", fmt_rate(ours.rate()), "", "",
                             f">= {TARGET_RATE:,}/s", at_least(ours.rate(), TARGET_RATE)))
    table.add(_versus("run_contention end to end", ours, simpy, "SimPy", vs_simpy))
    table.add(_versus("run_contention end to end", ours, bare, "bare heapq", (0.7, False, ">= 0.70x (stretch)")))
    table.add(_versus("run_contention end to end", ours, aio, "asyncio + looptime coroutines"))
    table.add(_versus("simulation only (RunResult.wall_seconds)", sim_only, simpy, "SimPy"))
    table.add(_versus("simulation only (RunResult.wall_seconds)", sim_only, bare, "bare heapq"))
    table.add(_versus("our SimulatedClock, minimal writers", clock, simpy, "SimPy"))
    table.add(_versus("our SimulatedClock, minimal writers", clock, bare, "bare heapq"))
    table.add(_versus("our SimulatedClock, minimal writers", clock, aio, "asyncio + looptime coroutines"))
    total = statistics.median(ours.seconds)
    table.note(f"ours: {ours.attempts[0]:,} write attempts in {total:.2f} s per sweep "
               f"({statistics.median(sim_only.seconds) / total:.0%} of it inside the simulation, the rest checking "
               "the store and building both result tables); spread of the repetitions: "
               + ", ".join(f"{name} {t.spread():.0%}" for name, t in tallies.items()))
    table.note("run_contention runs the real pattern, Event objects, the in-memory store, the network wrapper and "
               "the recorder on greenlets; SimPy, the bare heap, the minimal SimulatedClock writers and the asyncio "
               "coroutines only keep a version counter (the SimulatedClock rows measure the clock itself)")
    if aio is not None:
        table.note(f"asyncio + looptime: the same writers as async def coroutines awaiting asyncio.sleep, on "
                   f"looptime.new_event_loop(noop_cycles=0) (looptime's default of {LOOPTIME_DEFAULT_NOOP_CYCLES} "
                   "idle loop cycles before each time jump gives the same runs, slower: see the looptime settings "
                   "table)")
    return table


def _span(values: Sequence[int]) -> str:
    return f"{values[0]}..{values[-1]}" if len(values) > 2 else ", ".join(map(str, values))


# --------------------------------------------------------------------------- agreement


def _mean_attempts(tally: _Tally, jitter: str, writers: int) -> float:
    return statistics.mean(n for c, n in tally.by_config.items() if c.jitter == jitter and c.writers == writers)


def _agreement_table(tallies: dict[str, _Tally], sizes: Sizes) -> tuple[Table, bool]:
    names = [n for n in (AETHER, SIMPY, BARE, CLOCK, LOOPTIME) if n in tallies]
    table = Table(f"simulation: do the simulators agree? mean write attempts per configuration over "
                  f"{len(sizes.sweep_seeds)} seeds (independent random streams)",
                  headers=("configuration", *names, "largest deviation from aether", "within 10%"))
    all_ok = True
    for jitter in JITTERS:
        for writers in sizes.sweep_writers:
            means = [_mean_attempts(tallies[n], jitter, writers) for n in names]
            deviation = max(abs(m - means[0]) / means[0] for m in means[1:])
            ok = deviation <= AGREEMENT_TOLERANCE
            all_ok &= ok
            table.add(Row((f"jitter={jitter}, {writers} writers", *(f"{m:,.1f}" for m in means),
                           f"{deviation:.1%}", "yes" if ok else "NO")))
    table.note(f"statistical agreement (every configuration within {AGREEMENT_TOLERANCE:.0%}): "
               + ("PASSED" if all_ok else "FAILED"))
    return table, all_ok


def _exact_check(ours: _Tally) -> tuple[int, int]:
    """Feed the bare simulator the harness's own random streams; count runs that match ours exactly."""
    matched = 0
    for config, attempts in ours.by_config.items():
        bare = bare_contention(config.writers, config.seed, harness_model(config.jitter), streams=_harness_streams)
        matched += bare.attempts == attempts
    return matched, len(ours.by_config)


def _harness_streams(seed: int, writer: int) -> tuple[random.Random, random.Random]:
    # How run_contention seeds each writer's network and pattern generators.
    return random.Random(f"{seed}/network/{writer}"), random.Random(f"{seed}/pattern/{writer}")


# --------------------------------------------------------------------------- looptime's own settings


def _looptime_table(sizes: Sizes) -> Table:
    """One run of the sweep on looptime's default settings, next to noop_cycles=0 and our harness."""
    config = Config("full", sizes.sweep_writers[-1], sizes.sweep_seeds[0])
    model = harness_model(config.jitter)
    title = (f"simulation: asyncio + looptime settings, one run (jitter={config.jitter}, {config.writers} writers, "
             f"seed {config.seed}), simulated write attempts per second, median of {sizes.sweep_repeats}")
    if not looptime_available():
        table = Table(title)
        table.add(Row.comparison("asyncio + looptime", "", "skipped: not installed"))
        return table
    outcomes: dict[str, int] = {}

    def model_run(name: str, noop_cycles: int) -> Contender:
        def work() -> int:
            outcomes[name] = looptime_contention(config.writers, config.seed, model,
                                                 noop_cycles=noop_cycles).attempts
            return outcomes[name]
        return Contender(name, lambda: work)

    default, tuned = f"noop_cycles={LOOPTIME_DEFAULT_NOOP_CYCLES}", "noop_cycles=0"
    results = interleave([Contender(AETHER, lambda: lambda: run_harness(config).attempts),
                          model_run(default, LOOPTIME_DEFAULT_NOOP_CYCLES), model_run(tuned, 0)], sizes.sweep_repeats)
    if outcomes[default] != outcomes[tuned]:
        raise AssertionError(f"looptime's runs differ with its settings: {outcomes}")
    table = Table(title)
    ours = results[AETHER].median_rate
    for name in (default, tuned):
        theirs = results[name].median_rate
        table.add(Row.comparison(f"run_contention end to end vs asyncio + looptime, {name}", fmt_rate(ours),
                                 fmt_rate(theirs), ratio(ours, theirs)))
    table.note(f"both settings run the same {outcomes[tuned]:,} write attempts (checked): the no-op cycles only "
               "let chained awaits schedule their timers before time jumps, and these writers await plain sleeps; "
               f"{tuned} is {results[tuned].median_rate / results[default].median_rate:.1f}x as fast as the default")
    return table


# --------------------------------------------------------------------------- profile


def _group(filename: str, function: str) -> str:
    """A readable bucket for one profiled function: our module, a library, or the C built-ins."""
    path = Path(filename)
    parts = path.parts
    if "aether" in parts:
        return "aether/" + "/".join(parts[len(parts) - parts[::-1].index("aether"):])
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if filename == "~":
        return f"C {function}"
    if filename.startswith(sysconfig.get_paths()["stdlib"]):
        return "stdlib " + path.stem
    return path.name


def _profile_table(sizes: Sizes) -> Table:
    """cProfile one seed of the sweep through our harness; internal time by module."""
    configs = [Config(j, w, sizes.sweep_seeds[0]) for j in JITTERS for w in sizes.sweep_writers]
    profiler = cProfile.Profile()
    profiler.enable()
    for config in configs:
        run_harness(config)
    profiler.disable()
    totals: dict[str, float] = {}
    for (filename, _, function), (_, _, internal, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        key = _group(filename, function)
        totals[key] = totals.get(key, 0.0) + internal
    overall = sum(totals.values())
    table = Table(f"simulation: where run_contention spends its time (cProfile, {len(configs)} runs, seed "
                  f"{sizes.sweep_seeds[0]}; internal time by module)", headers=("module", "share", "seconds"))
    for key, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:14]:
        table.add(Row((key, f"{seconds / overall:.1%}", f"{seconds:.3f}")))
    table.note("cProfile adds a fixed cost to every Python call and charges it to the callee, so modules made of "
               "many small functions (the network wrapper, the recorder) look dearer than they are; read the "
               "order of magnitude, not the exact share")
    return table


# --------------------------------------------------------------------------- entry point


def run(sizes: Sizes, *, profile: bool = True, baseline: Path | None = None) -> Iterator[Table]:
    """Yield the speed table, the agreement table, looptime's settings, the parallel sweep (loky, and loky
    against a local Dask cluster), the big run
    (against *baseline*, a checkout of an older commit, when given) and (with *profile*) the profile of our
    harness."""
    from bench import parallel, scale

    configs = configurations(sizes)
    tallies = _sweep(configs, sizes.sweep_repeats)
    yield _speed_table(tallies, configs, sizes)
    table, _ = _agreement_table(tallies, sizes)
    matched, total = _exact_check(tallies[AETHER])
    table.note(f"exact agreement: fed the harness's own random streams, the bare simulator reproduced "
               f"{matched} of {total} runs write attempt for write attempt")
    yield table
    yield _looptime_table(sizes)
    yield parallel.run(sizes)
    yield parallel.dask_table(sizes)
    yield scale.run(sizes, baseline)
    if profile:
        yield _profile_table(sizes)
