"""Checking claims: run them over seeds (in parallel), count, give intervals, name what broke.

:func:`check_claims` runs every (claim, point, seed) as one task, on one process
or on ``jobs`` worker processes (joblib's loky backend), and returns one
:class:`Verdict` per claim. The points are the claim's own, ``perturb`` seeded
random points of its domain and ``corners`` of its corners (``"all"`` or a seeded
sample; see :meth:`~aether.claims.Claim.corners`). A point's verdict is

* ``holds``: the Wilson lower bound of the share of seeds that held reaches the claim's ``share``;
* ``false``: the upper bound is below it (the claim is wrong there);
* ``fragile``: neither (the seeds do not settle it: a claim to narrow or to restate).

A claim's verdict is its worst point's; only ``holds`` passes.
"""

from __future__ import annotations

import html
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aether.checks import check_bool, check_int
from aether.claims.model import Claim, Corners, Trial, check_corners, wilson_interval

__all__ = ["PointResult", "Status", "Verdict", "check_claims"]

Status = Literal["holds", "fragile", "false"]
_ORDER = {"holds": 0, "fragile": 1, "false": 2}

#: How many broken seeds a message names at most (it says how many more there were).
NAMED_SEEDS = 8


@dataclass(frozen=True)
class PointResult:
    """The seeds of one point of a claim's domain: how many held, the interval, the verdict.

    ``perturbed``: a seeded random point of the domain; ``corner``: one of its corners
    (neither: the claim's own point).
    """

    point: dict[str, float]
    trials: tuple[Trial, ...]
    perturbed: bool
    share: float
    confidence: float
    corner: bool = False

    @property
    def kind(self) -> str:
        """``"corner"``, ``"perturbed"`` or ``"claim's point"``: which of the checked points this is."""
        return "corner" if self.corner else "perturbed" if self.perturbed else "claim's point"

    @property
    def successes(self) -> int:
        """Seeds where the relation held."""
        return sum(t.holds for t in self.trials)

    @property
    def n(self) -> int:
        """Seeds run."""
        return len(self.trials)

    @property
    def interval(self) -> tuple[float, float]:
        """The Wilson interval of the share of seeds that held."""
        return wilson_interval(self.successes, self.n, self.confidence)

    @property
    def status(self) -> Status:
        """``holds``, ``fragile`` or ``false`` (see the module's docstring)."""
        low, high = self.interval
        if low >= self.share - 1e-12:
            return "holds"
        return "false" if high < self.share else "fragile"

    def point_text(self) -> str:
        """The point as ``writers=50, service_scale=1``."""
        return ", ".join(f"{k}={v:g}" for k, v in self.point.items())

    def broken(self) -> str:
        """The seeds that broke the claim here, with each arm's value."""
        bad = [t for t in self.trials if not t.holds]
        shown = "; ".join(f"seed {t.seed} (" + ", ".join(f"{label} {value:.4g}" for label, value in t.values) + ")"
                          for t in bad[:NAMED_SEEDS])
        more = f"; and {len(bad) - NAMED_SEEDS} more" if len(bad) > NAMED_SEEDS else ""
        return shown + more


@dataclass(frozen=True)
class Verdict:
    """What checking one claim found: per point, the seeds that held and the interval; and the line to show.

    ``str(verdict)`` is the one line a notebook shows ("full jitter does less work
    than no jitter: 30 of 30 seeds, 20-200 writers, laptop SQLite"), deterministic
    for the same seeds; :attr:`message` names the seeds and values that broke it.
    """

    claim: Claim
    points: tuple[PointResult, ...]
    seconds: float

    @property
    def status(self) -> Status:
        """The worst point's verdict."""
        return max((p.status for p in self.points), key=_ORDER.__getitem__)

    @property
    def passed(self) -> bool:
        """Whether the claim holds at every point checked."""
        return self.status == "holds"

    @property
    def failed_points(self) -> tuple[PointResult, ...]:
        """The points where it did not hold (``fragile`` or ``false``), in the order checked."""
        return tuple(p for p in self.points if p.status != "holds")

    @property
    def successes(self) -> int:
        """Seeds that held, over every point."""
        return sum(p.successes for p in self.points)

    @property
    def n(self) -> int:
        """Seeds run, over every point."""
        return sum(p.n for p in self.points)

    @property
    def interval(self) -> tuple[float, float]:
        """The Wilson interval of the share over every point's seeds."""
        return wilson_interval(self.successes, self.n, self.claim.confidence)

    def evidence(self) -> str:
        """Where it was checked: "30 of 30 seeds at 50 writers" (or "118 of 120 seeds at 4 points").

        With one point, the point's value on each axis the domain lets vary, so that
        a check at one point does not read as a check of the whole domain.
        """
        text = f"{self.successes} of {self.n} seeds"
        if len(self.points) > 1:
            return f"{text} at {len(self.points)} points"
        point = self.points[0].point
        varying = [axis.value_text(name, point[name]) for name, axis in self.claim.domain.items()
                   if axis.low != axis.high and name in point]
        return f"{text} at {', '.join(varying)}" if varying else text

    def _where(self) -> str:
        return f"claimed for {self.claim.domain_text()}, {self.claim.profile.label}"

    @property
    def message(self) -> str:
        """Why it did not hold: each failing point, its share, and the seeds and values that broke it."""
        lines = []
        for p in self.failed_points:
            low, high = p.interval
            tag = f" ({p.kind})" if p.perturbed or p.corner else ""
            lines.append(f"{self.claim.key} is {p.status} at {p.point_text()}{tag}: "
                         f"{p.successes} of {p.n} seeds held "
                         f"[{low:.2f}, {high:.2f}] < {self.claim.share:g}; {self.claim.comparison_text()}; "
                         f"broke in {p.broken()}")
        return "\n".join(lines)

    def __str__(self) -> str:
        c = self.claim
        mark = "" if self.passed else f" [{self.status.upper()}]"
        return f"{c.statement}: {self.evidence()}; {self._where()}{mark}"

    def _repr_markdown_(self) -> str:
        sign = "✓" if self.passed else "✗"
        return f"{sign} **{self.claim.statement}**: {self.evidence()}; {self._where()}" + \
            ("" if self.passed else f" (**{self.status}**)")

    def _repr_html_(self) -> str:
        sign = "&#10003;" if self.passed else "&#10007;"
        c = self.claim
        tail = "" if self.passed else f" (<strong>{self.status}</strong>)"
        return (f"<p>{sign} <strong>{html.escape(c.statement)}</strong>: {html.escape(self.evidence())}; "
                f"{html.escape(self._where())}{tail}</p>")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def raise_if_failed(self) -> Verdict:
        """Raise :class:`AssertionError` with :attr:`message` unless the claim held; else return self."""
        if not self.passed:
            raise AssertionError(self.message)
        return self


def _task(claim: Claim, point: dict[str, float], seed: int) -> tuple[Trial, float]:
    started = time.process_time()
    with warnings.catch_warnings():  # a run where every save fails (an outage claim) says so; the claim counts it
        warnings.filterwarnings("ignore", message="every save of", category=RuntimeWarning)
        trial = claim.trial(point, seed)
    return trial, time.process_time() - started


def check_claims(claims: Sequence[Claim], seeds: Iterable[int], *, perturb: int = 0, perturb_seed: int = 0,
                 corners: Corners = 0, corner_seed: int = 0, jobs: int = 1,
                 progress: bool = False) -> list[Verdict]:
    """Check *claims* over *seeds*, each at its point, *perturb* seeded random points and *corners* corners.

    ``corners="all"`` checks every corner of each claim's domain, an int ``k``
    a seeded sample of ``k`` corners per claim (*corner_seed* picks which);
    a corner that is the claim's own point is not run twice.
    One task per (claim, point, seed), run in order or on *jobs* processes;
    the results are the same either way. ``progress=True`` shows a bar on stderr.
    Returns one :class:`Verdict` per claim, in order; ``Verdict.seconds`` is the
    CPU time its runs took.
    """
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"claims must be Claim objects; got {c!r} ({type(c).__name__})")
    seed_list = [check_int("seed", s, 0) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must name at least one seed; got none")
    perturb = check_int("perturb", perturb, 0)
    perturb_seed = check_int("perturb_seed", perturb_seed, 0)
    corners = check_corners("corners", corners)
    corner_seed = check_int("corner_seed", corner_seed, 0)
    jobs = check_int("jobs", jobs, -1)
    if jobs == 0:
        raise ValueError("jobs must be a positive int or -1 (one per core); got 0")
    show = check_bool("progress", progress)
    plan: list[tuple[int, int, dict[str, float], str]] = []  # (claim, point index, point, kind)
    for i, c in enumerate(claims):
        points = [(dict(c.at), "point")] + [(p, "perturbed") for p in c.perturbed_points(perturb, perturb_seed)]
        if corners:
            points += [(p, "corner") for p in c.corners(corners, corner_seed, exclude=[c.at])]
        plan += [(i, k, p, kind) for k, (p, kind) in enumerate(points)]
    tasks = [(i, k, point, seed) for i, k, point, _ in plan for seed in seed_list]
    from tqdm.auto import tqdm

    results: list[tuple[Trial, float]] = []
    with tqdm(total=len(tasks), desc="claims", unit="run", disable=not show, leave=False,
              file=sys.stderr) as bar:
        if jobs == 1 or len(tasks) == 1:
            for i, _k, point, seed in tasks:
                results.append(_task(claims[i], point, seed))
                bar.update()
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator")
            for result in parallel(delayed(_task)(claims[i], point, seed) for i, _k, point, seed in tasks):
                results.append(result)
                bar.update()
    by_point: dict[tuple[int, int], list[Trial]] = {}
    cost: dict[int, float] = {}
    for (i, k, _point, _seed), (trial, seconds) in zip(tasks, results, strict=True):
        by_point.setdefault((i, k), []).append(trial)
        cost[i] = cost.get(i, 0.0) + seconds
    verdicts = []
    for i, c in enumerate(claims):
        points = tuple(PointResult(point, tuple(by_point[(j, k)]), kind == "perturbed", c.share, c.confidence,
                                   corner=kind == "corner")
                       for j, k, point, kind in plan if j == i)
        verdicts.append(Verdict(c, points, cost.get(i, 0.0)))
    return verdicts
