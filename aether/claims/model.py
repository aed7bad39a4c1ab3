"""A claim: what is compared, against what, where it holds, in what share of seeds.

A chapter's conclusion is a :class:`Claim`::

    Claim(
        chapter=3, id="full-jitter-less-work",
        statement="full jitter does less work than no jitter",
        subject=contention_arm("full jitter", partial(jitter_retry, jitter="full")),
        baseline=contention_arm("no jitter", partial(jitter_retry, jitter="none")),
        metric=work(), relation=less_than(),
        domain={"writers": Range(20, 200, unit="writers")}, at={"writers": 100},
        profile=LAPTOP_SQLITE,
    )

Checking it (:meth:`Claim.check`) runs the arms over seeds at its point (and at
random points of its domain, and at its corners), counts the seeds where the
relation held, and gives the share with a Wilson interval. The check passes only
when the interval's lower bound reaches the claim's ``share`` at every point checked.

A domain is a promise that the claim holds everywhere in it, and claims tend to
break at its edges (the most writers, the longest outage), where random interior
points rarely land. :meth:`Claim.corners` gives the domain's corners, every axis
at its low or high end: all of them (``"all"``, 2**d points for d axes that are
not a single value) or a seeded sample of *k*, which is how a claim with many
axes is checked at a few corners instead of thousands.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from aether.checks import check_callable, check_int, check_number, check_text
from aether.claims.metrics import Metric
from aether.experiment.profiles import StoreProfile

__all__ = [
    "HELD_OUT_SEEDS",
    "MAX_CORNERS",
    "Arm",
    "Claim",
    "Corners",
    "Range",
    "Relation",
    "at_least",
    "at_most",
    "check_corners",
    "contention_arm",
    "greater_than",
    "less_than",
    "load_arm",
    "wilson_interval",
]

#: The seeds the claims command uses by default. No notebook uses them (a test checks), so a claim
#: is checked on runs its chapter never saw.
HELD_OUT_SEEDS = range(10_000, 10_030)

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")

#: How many corners to check: ``"all"`` of them, or a seeded sample of that many (0: none).
Corners: TypeAlias = int | Literal["all"]

#: The most corners ``corners="all"`` enumerates (12 axes); with more axes, ask for a sample.
MAX_CORNERS = 4096


def check_corners(name: str, value: object) -> Corners:
    """*value* as a :data:`Corners` request: ``"all"`` or an int >= 0 (TypeError / ValueError otherwise)."""
    if isinstance(value, str):
        if value != "all":
            raise ValueError(f"{name} must be 'all' or an int >= 0; got {value!r}")
        return "all"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be 'all' or an int >= 0; got {value!r} ({type(value).__name__})")
    return check_int(name, value, 0)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a share *successes* / *trials* at *confidence* (two-sided).

    Wilson's interval stays inside [0, 1] and keeps its coverage near 0 and 1,
    where the usual normal interval fails (30 of 30 is not "certain").
    """
    trials = check_int("trials", trials, 1)
    successes = check_int("successes", successes, 0, trials)
    confidence = check_number("confidence", confidence, above=0.0, maximum=0.9999)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Range:
    """One axis of a claim's domain: a value from *low* to *high* (inclusive).

    ``integer=True`` for counts (writers); ``log=True`` draws perturbed points
    evenly on a log scale (a service scale from 1 to 100). ``unit`` is how the
    range reads: ``Range(20, 200, integer=True, unit="writers")`` is "20-200 writers".
    """

    low: float
    high: float
    integer: bool = False
    log: bool = False
    unit: str = ""

    def __post_init__(self) -> None:
        check_number("Range.low", self.low)
        check_number("Range.high", self.high)
        if self.high < self.low:
            raise ValueError(f"Range.high must be >= low; got low={self.low!r}, high={self.high!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"Range.low must be > 0 for a log range; got {self.low!r}")
        if self.integer and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"an integer Range needs integer bounds; got {self.low!r}-{self.high!r}")

    def contains(self, value: float) -> bool:
        """Whether *value* lies in the range (and is whole, for an integer range)."""
        if self.integer and value != int(value):
            return False
        return self.low - 1e-12 <= value <= self.high + 1e-12

    def ends(self) -> tuple[float, ...] | tuple[int, ...]:
        """The range's ends, low then high, as a corner takes them (one value if they are equal).

        An integer range gives ints; a log range its ends as stated (not their logs);
        a float range floats.
        """
        if self.integer:
            low, high = int(self.low), int(self.high)
            return (low,) if low == high else (low, high)
        return (float(self.low),) if self.low == self.high else (float(self.low), float(self.high))

    def draw(self, rng: random.Random) -> float | int:
        """A random value of the range (uniform, or uniform on a log scale)."""
        if self.low == self.high:
            return int(self.low) if self.integer else self.low
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        if self.integer:
            return min(int(self.high), max(int(self.low), round(value)))
        return round(value, 6)

    def text(self, name: str) -> str:
        """How the range reads in a claim's line: "20-200 writers", "x1-x100 service"."""
        unit = self.unit or name.replace("_", " ")
        span = f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"
        return f"{span} {unit}"

    def value_text(self, name: str, value: float) -> str:
        """How one value of the range reads: "50 writers" (a checked point, beside the range it is in)."""
        return f"{value:g} {self.unit or name.replace('_', ' ')}"


Op = Literal["<", "<=", ">", ">="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class Relation:
    """How the subject's value must compare, in one seed, to the references or to a fixed value.

    With a baseline (and an ablation), the subject must be ``op`` ``factor`` x each
    of them; without, ``op`` ``value``. Build one with :func:`less_than`,
    :func:`greater_than`, :func:`at_most` or :func:`at_least`.
    """

    op: Op
    factor: float = 1.0
    value: float | None = None

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"Relation.op must be one of {sorted(_OPS)}; got {self.op!r}")
        check_number("Relation.factor", self.factor, above=0.0)
        if self.value is not None:
            check_number("Relation.value", self.value)

    def holds(self, subject: float, references: Iterable[float]) -> bool:
        """Whether it holds for one seed (NaN never holds)."""
        compare = _OPS[self.op]
        if self.value is not None:
            return not math.isnan(subject) and compare(subject, self.value)
        refs = list(references)
        return bool(refs) and all(not math.isnan(subject) and not math.isnan(r) and compare(subject, self.factor * r)
                                  for r in refs)

    def text(self, metric: Metric) -> str:
        """The relation in words ("< 0.5 x", ">= 99%")."""
        if self.value is not None:
            return f"{self.op} {metric.format(self.value)}"
        return f"{self.op} {self.factor:g} x" if self.factor != 1 else self.op


def less_than(factor: float = 1.0) -> Relation:
    """The subject's metric is below *factor* x the baseline's (and the ablation's)."""
    return Relation("<", factor)


def greater_than(factor: float = 1.0) -> Relation:
    """The subject's metric is above *factor* x the baseline's (and the ablation's)."""
    return Relation(">", factor)


def at_most(value: float) -> Relation:
    """The subject's metric is at most *value* (a claim without a baseline)."""
    return Relation("<=", value=value)


def at_least(value: float) -> Relation:
    """The subject's metric is at least *value* (a claim without a baseline)."""
    return Relation(">=", value=value)


Runner = Callable[[Mapping[str, Any], int, StoreProfile], Any]


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label and how to run it at a point of the domain with a seed.

    ``run(params, seed, profile)`` returns a :class:`~aether.experiment.RunResult`. Build
    arms with :func:`contention_arm` and :func:`load_arm`; write your own runner for
    anything else (it must be picklable for ``--jobs``: a module-level function or a partial).
    """

    label: str
    run: Runner

    def __post_init__(self) -> None:
        check_text("Arm.label", self.label)
        check_callable("Arm.run", self.run, "run(params, seed, profile) -> RunResult")


def _scaled(params: Mapping[str, Any], profile: StoreProfile) -> StoreProfile:
    scale = params.get("service_scale", 1.0)
    if scale == 1.0:
        return profile
    return profile.scaled(scale, reason="the claim's service_scale")


def _network(params: Mapping[str, Any], profile: StoreProfile, network: Callable[..., Any] | None) -> Any:
    if network is not None:
        return network(params, profile)
    settings: dict[str, Any] = {}
    if params.get("think_time"):
        from aether.experiment.delays import Exponential

        settings["think_time"] = Exponential(float(params["think_time"]))
    if params.get("timeout"):
        settings["timeout"] = float(params["timeout"])
    return profile.network(**settings)


def _capacity(params: Mapping[str, Any], profile: StoreProfile, capacity: Callable[..., Any] | None) -> Any:
    return capacity(params, profile) if capacity is not None else profile.capacity()


_CONTENTION_KEYS = ("writers", "saves_per_writer", "actors", "start_spread")


def _run_contention(params: Mapping[str, Any], seed: int, profile: StoreProfile, *, pattern: Any, label: str,
                    network: Callable[..., Any] | None, capacity: Callable[..., Any] | None,
                    fixed: Mapping[str, Any]) -> Any:
    from aether.experiment import run_contention

    profile = _scaled(params, profile)
    kwargs = {**{k: params[k] for k in _CONTENTION_KEYS if k in params}, **fixed}  # a fixed setting wins
    for key in ("writers", "saves_per_writer", "actors"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    return run_contention(pattern, seed=seed, name=label, network=_network(params, profile, network),
                          capacity=_capacity(params, profile, capacity), **kwargs)


_LOAD_KEYS = ("rate", "duration", "actors")


def _run_load(params: Mapping[str, Any], seed: int, profile: StoreProfile, *, pattern: Any, label: str,
              network: Callable[..., Any] | None, capacity: Callable[..., Any] | None,
              fixed: Mapping[str, Any]) -> Any:
    from aether.experiment import run_load

    profile = _scaled(params, profile)
    kwargs = {**{k: params[k] for k in _LOAD_KEYS if k in params}, **fixed}  # a fixed setting wins
    if "actors" in kwargs:
        kwargs["actors"] = int(kwargs["actors"])
    return run_load(pattern, seed=seed, name=label, network=_network(params, profile, network),
                    capacity=_capacity(params, profile, capacity), **kwargs)


def contention_arm(label: str, pattern: Any, *, network: Callable[..., Any] | None = None,
                   capacity: Callable[..., Any] | None = None, **fixed: Any) -> Arm:
    """An arm that runs :func:`~aether.experiment.run_contention` with *pattern* on the claim's profile.

    Domain parameters it understands: ``writers``, ``saves_per_writer``, ``actors``,
    ``start_spread``, ``think_time`` (mean seconds, exponential), ``timeout`` and
    ``service_scale`` (the profile scaled by that factor). ``fixed`` run settings
    go to every run and win over the point's (a baseline at ``writers=1``).
    ``network(params, profile)`` / ``capacity(params, profile)``, if given, build the
    network and capacity from the point (e.g. an outage whose length is a domain
    parameter); they must use the *profile* they are given.
    """
    import functools

    return Arm(label, functools.partial(_run_contention, pattern=pattern, label=label, network=network,
                                        capacity=capacity, fixed=dict(fixed)))


def load_arm(label: str, pattern: Any, *, network: Callable[..., Any] | None = None,
             capacity: Callable[..., Any] | None = None, **fixed: Any) -> Arm:
    """An arm that runs :func:`~aether.experiment.run_load` (open loop) with *pattern* on the claim's profile.

    Domain parameters it understands: ``rate``, ``duration``, ``actors``,
    ``think_time``, ``timeout`` and ``service_scale``; the rest as for :func:`contention_arm`.
    """
    import functools

    return Arm(label, functools.partial(_run_load, pattern=pattern, label=label, network=network,
                                        capacity=capacity, fixed=dict(fixed)))


@dataclass(frozen=True)
class Trial:
    """One seed at one point: each arm's metric value, and whether the relation held."""

    point: tuple[tuple[str, float], ...]
    seed: int
    values: tuple[tuple[str, float], ...]
    holds: bool


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A conclusion of a chapter, stated with what it compares, where it holds and how often.

    * ``chapter``, ``id``: where it belongs and its short name (``ch03/full-jitter-less-work``);
    * ``statement``: the one sentence a reader sees, within its domain;
    * ``subject``, ``baseline``, ``ablation``: the arms. The baseline is the strongest
      reasonable alternative; the ablation is the subject without its mechanism (the
      same waits without the signal). The relation must hold against both;
    * ``metric`` and ``relation``: what is compared and how;
    * ``domain``: the parameters the claim depends on, each a :class:`Range`; ``at``:
      the point checked first (inside the domain; each range's low end if not given);
    * ``profile``: the store the runs use (a :class:`~aether.experiment.profiles.StoreProfile`);
    * ``share``, ``confidence``: the claim promises that at least ``share`` of seeds hold,
      at that confidence: the check passes when the Wilson lower bound reaches ``share``;
    * ``note``: what a reader of the catalog should know (an earlier wording and why it went).
    """

    chapter: int
    id: str
    statement: str
    subject: Arm
    metric: Metric
    relation: Relation
    domain: Mapping[str, Range]
    profile: StoreProfile
    baseline: Arm | None = None
    ablation: Arm | None = None
    at: Mapping[str, float] = field(default_factory=dict)
    share: float = 0.8
    confidence: float = 0.95
    note: str = ""

    def __post_init__(self) -> None:
        check_int("Claim.chapter", self.chapter, 0, 99)
        check_text("Claim.id", self.id)
        if not _ID.match(self.id):
            raise ValueError(f"Claim.id must be lower-case words joined by '-'; got {self.id!r}")
        check_text("Claim.statement", self.statement)
        for name in ("subject", "baseline", "ablation"):
            arm = getattr(self, name)
            if arm is not None and not isinstance(arm, Arm):
                raise TypeError(f"Claim.{name} must be an Arm; got {arm!r} ({type(arm).__name__})")
        if not isinstance(self.subject, Arm):
            raise TypeError(f"Claim.subject must be an Arm; got {self.subject!r}")
        if not isinstance(self.metric, Metric):
            raise TypeError(f"Claim.metric must be a Metric; got {self.metric!r} ({type(self.metric).__name__})")
        if not isinstance(self.relation, Relation):
            raise TypeError(f"Claim.relation must be a Relation; got {self.relation!r}")
        if (self.relation.value is None) != (self.baseline is not None):
            raise ValueError(f"Claim.relation must compare with the baseline when there is one and with a value when "
                             f"there is none; got baseline={self.baseline!r}, relation={self.relation!r}")
        if self.ablation is not None and self.baseline is None:
            raise ValueError("Claim.ablation needs a baseline too; got an ablation without a baseline")
        if not isinstance(self.profile, StoreProfile):
            raise TypeError(f"Claim.profile must be a StoreProfile; got {self.profile!r}")
        if not isinstance(self.domain, Mapping) or not self.domain:
            raise ValueError(f"Claim.domain must map at least one parameter to a Range; got {self.domain!r}")
        for name, axis in self.domain.items():
            check_text("Claim.domain key", name)
            if not isinstance(axis, Range):
                raise TypeError(f"Claim.domain[{name!r}] must be a Range; got {axis!r} ({type(axis).__name__})")
        object.__setattr__(self, "domain", dict(self.domain))
        at = {name: axis.low if not axis.integer else int(axis.low) for name, axis in self.domain.items()}
        at.update(self.at)
        object.__setattr__(self, "at", self.point(at))
        check_number("Claim.share", self.share, above=0.0, maximum=1.0)
        check_number("Claim.confidence", self.confidence, above=0.0, maximum=0.9999)

    # -- where it holds -------------------------------------------------------------

    @property
    def key(self) -> str:
        """``chNN/id``: how the command and a message name the claim."""
        return f"ch{self.chapter:02d}/{self.id}"

    def point(self, params: Mapping[str, float]) -> dict[str, float]:
        """*params* checked against the domain: every parameter named, every value inside.

        A parameter outside its range, or one the domain does not name, is refused
        with a :class:`ValueError` naming it: a claim says nothing outside its domain.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter to value; got {params!r}")
        unknown = sorted(set(params) - set(self.domain))
        if unknown:
            raise ValueError(f"{self.key} has no parameter {unknown[0]!r} in its domain "
                             f"({', '.join(self.domain)}); got {unknown[0]}={params[unknown[0]]!r}")
        missing = sorted(set(self.domain) - set(params))
        if missing:
            raise ValueError(f"{self.key} needs a value for {missing[0]!r}; got {dict(params)!r}")
        out: dict[str, float] = {}
        for name, axis in self.domain.items():
            value = params[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number; got {value!r} ({type(value).__name__})")
            if not axis.contains(value):
                raise ValueError(f"{name}={value!r} is outside the domain of {self.key} ({axis.text(name)}): "
                                 f"the claim says nothing there")
            out[name] = int(value) if axis.integer else float(value)
        return out

    def perturbed_points(self, count: int, seed: int = 0) -> list[dict[str, float]]:
        """*count* random points of the domain, the same for the same claim, *count* and *seed*."""
        count = check_int("count", count, 0)
        seed = check_int("seed", seed, 0)
        rng = random.Random(f"{self.key}/perturb/{seed}")
        return [self.point({name: axis.draw(rng) for name, axis in self.domain.items()}) for _ in range(count)]

    def corner_count(self) -> int:
        """How many corners the domain has: 2**d for its d axes that are not a single value."""
        return math.prod(len(axis.ends()) for axis in self.domain.values())

    def corners(self, count: Corners = "all", seed: int = 0, *,
                exclude: Iterable[Mapping[str, float]] = ()) -> list[dict[str, float]]:
        """The domain's corners: every axis at its low or its high end.

        ``count="all"`` gives every corner, in order (the first axis varies
        slowest, low before high); an int gives a sample of that many, the same
        for the same claim, *count* and *seed*, in that same order (all of them
        when there are fewer). Points in *exclude* (the claim's own point, when it
        is a corner) are left out before sampling, so a sample of one is a corner
        not checked already. Use it to check a claim where its domain ends, which
        random points of the domain rarely reach.

        ``"all"`` is refused beyond :data:`MAX_CORNERS` corners: sample them instead.
        """
        count = check_corners("count", count)
        seed = check_int("seed", seed, 0)
        skip = [self.point(p) for p in exclude]
        axes = [axis.ends() for axis in self.domain.values()]
        total = self.corner_count()
        if count == "all" and total > MAX_CORNERS:
            raise ValueError(f"count='all' would check {total} corners of {self.key} (more than {MAX_CORNERS}); "
                             f"pass a number of corners to sample instead")

        def corner(index: int) -> dict[str, float]:  # mixed radix: the last axis varies fastest
            values: list[float] = []
            for ends in reversed(axes):
                index, digit = divmod(index, len(ends))
                values.append(ends[digit])
            return self.point(dict(zip(self.domain, reversed(values), strict=True)))

        if count == "all" or total <= MAX_CORNERS:
            every = [dict(zip(self.domain, values, strict=True)) for values in itertools.product(*axes)]
            candidates = [self.point(c) for c in every if c not in skip]
            if count == "all" or count >= len(candidates):
                return candidates
            rng = random.Random(f"{self.key}/corners/{seed}")
            return [candidates[i] for i in sorted(rng.sample(range(len(candidates)), count))]
        rng = random.Random(f"{self.key}/corners/{seed}")
        drawn = [i for i in rng.sample(range(total), min(total, count + len(skip))) if corner(i) not in skip]
        return [corner(i) for i in sorted(drawn[:count])]

    # -- running it -----------------------------------------------------------------

    @property
    def arms(self) -> tuple[Arm, ...]:
        """The subject, then the baseline and the ablation that exist."""
        return tuple(a for a in (self.subject, self.baseline, self.ablation) if a is not None)

    def trial(self, params: Mapping[str, float], seed: int) -> Trial:
        """Run every arm at *params* with *seed* and say whether the relation held."""
        point = self.point(params)
        seed = check_int("seed", seed, 0)
        values = {arm.label: self.metric(arm.run(point, seed, self.profile)) for arm in self.arms}
        refs = [values[a.label] for a in (self.baseline, self.ablation) if a is not None]
        holds = self.relation.holds(values[self.subject.label], refs)
        return Trial(tuple(point.items()), seed, tuple(values.items()), holds)

    def check(self, seeds: Iterable[int] = HELD_OUT_SEEDS, *, perturb: int = 0, perturb_seed: int = 0,
              corners: Corners = 0, corner_seed: int = 0, jobs: int = 1, progress: bool = False) -> Any:
        """Check the claim over *seeds* at its point, *perturb* random points and *corners* corners: a :class:`Verdict`.

        ``corners="all"`` checks every corner of the domain, an int a seeded
        sample of that many (see :meth:`corners`). ``jobs=N`` runs the seeds on
        N worker processes (joblib; ``-1``: one per core).
        """
        from aether.claims.check import check_claims

        return check_claims([self], seeds, perturb=perturb, perturb_seed=perturb_seed, corners=corners,
                            corner_seed=corner_seed, jobs=jobs, progress=progress)[0]

    # -- reading it -----------------------------------------------------------------

    def domain_text(self) -> str:
        """The domain as it reads in the claim's line: "20-200 writers, x1-x10 service scale"."""
        return ", ".join(axis.text(name) for name, axis in self.domain.items())

    def comparison_text(self) -> str:
        """What is compared: "store writes: full jitter < no jitter and < no signal (ablation)"."""
        rel = self.relation.text(self.metric)
        if self.baseline is None:
            return f"{self.metric.name}: {self.subject.label} {rel}"
        text = f"{self.metric.name}: {self.subject.label} {rel} {self.baseline.label}"
        if self.ablation is not None:
            text += f" and {rel} {self.ablation.label} (ablation)"
        return text

    def __str__(self) -> str:
        return f"{self.key}: {self.statement} ({self.domain_text()}, {self.profile.label})"
