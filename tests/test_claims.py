"""Claims: a true claim passes, a claim that flips with seeds fails naming them, a domain is enforced."""

from __future__ import annotations

import functools

import pytest

from aether.claims import (
    HELD_OUT_SEEDS,
    Claim,
    Metric,
    Range,
    at_least,
    committed_share,
    contention_arm,
    less_than,
    wilson_interval,
    work,
)
from aether.experiment import AbsNormal
from aether.experiment.profiles import LAPTOP_SQLITE
from aether.patterns import jitter_retry, no_retry

FULL = functools.partial(jitter_retry, jitter="full", max_attempts=1000)
NONE = functools.partial(jitter_retry, jitter="none", max_attempts=1000)
CLASSIC = LAPTOP_SQLITE.with_hop(AbsNormal(0.010, 0.002), reason="the classic simulation's 10 ms hops")


def seed_is_odd(result) -> float:
    """1 on odd seeds, 0 on even ones: a 'claim' that flips with the seed."""
    return float(result.seed % 2)


def jitter_claim(**changes) -> Claim:
    settings = dict(chapter=3, id="full-jitter-less-work", statement="full jitter does less work than no jitter",
                    subject=contention_arm("full jitter", FULL), baseline=contention_arm("no jitter", NONE),
                    metric=work(), relation=less_than(), domain={"writers": Range(20, 40, integer=True,
                                                                                  unit="writers")},
                    profile=CLASSIC)
    settings.update(changes)
    return Claim(**settings)


def flipping_claim() -> Claim:
    return Claim(chapter=0, id="odd-seeds", statement="the seed is odd",
                 subject=contention_arm("no retry", no_retry), metric=Metric("odd seed", seed_is_odd),
                 relation=at_least(1.0), domain={"writers": Range(2, 4, integer=True, unit="writers")},
                 profile=LAPTOP_SQLITE)


def test_a_true_claim_passes_on_thirty_seeds():
    verdict = jitter_claim().check(seeds=range(30))
    assert verdict.passed and verdict.status == "holds"
    assert (verdict.successes, verdict.n) == (30, 30)


def test_a_claim_that_flips_with_seeds_fails_and_names_the_seeds_that_broke_it():
    verdict = flipping_claim().check(seeds=range(10))
    assert not verdict.passed and verdict.status == "false"
    assert (verdict.successes, verdict.n) == (5, 10)
    for seed in (0, 2, 4, 6, 8):
        assert f"seed {seed} (no retry 0)" in verdict.message
    assert "seed 1 " not in verdict.message and "writers=2" in verdict.message


def test_raise_if_failed_raises_with_the_message():
    with pytest.raises(AssertionError, match="seed 0"):
        flipping_claim().check(seeds=range(4)).raise_if_failed()


def test_too_few_seeds_make_a_true_claim_fragile_not_proven():
    verdict = jitter_claim().check(seeds=range(5))
    assert verdict.successes == 5 and verdict.status == "fragile" and not verdict.passed


@pytest.mark.parametrize("params, name", [({"writers": 500}, "writers"), ({"writers": 10}, "writers"),
                                          ({"writers": 20.5}, "writers")])
def test_a_point_outside_the_domain_is_refused_naming_the_parameter(params, name):
    with pytest.raises(ValueError, match=f"{name}=.* is outside the domain of ch03/full-jitter-less-work"):
        jitter_claim().trial(params, seed=0)


def test_a_parameter_the_domain_does_not_name_is_refused():
    with pytest.raises(ValueError, match="no parameter 'rate'"):
        jitter_claim().point({"writers": 20, "rate": 5})


def test_a_claims_own_point_must_lie_in_its_domain():
    with pytest.raises(ValueError, match="writers=300"):
        jitter_claim(at={"writers": 300})


def test_a_baseline_claim_needs_a_comparing_relation():
    with pytest.raises(ValueError, match="relation"):
        jitter_claim(relation=at_least(1.0))


def test_an_ablation_without_a_baseline_is_refused():
    with pytest.raises(ValueError, match="ablation"):
        Claim(chapter=0, id="x", statement="x", subject=contention_arm("a", no_retry),
              ablation=contention_arm("b", no_retry), metric=committed_share(), relation=at_least(0.5),
              domain={"writers": Range(2, 2, integer=True)}, profile=LAPTOP_SQLITE)


def test_perturbed_points_are_seeded_reproducible_and_inside_the_domain():
    claim = jitter_claim()
    first, again = claim.perturbed_points(5, seed=3), claim.perturbed_points(5, seed=3)
    assert first == again
    assert first != claim.perturbed_points(5, seed=4)
    assert all(20 <= p["writers"] <= 40 and isinstance(p["writers"], int) for p in first)


def test_a_perturbed_check_runs_each_point_on_every_seed_and_repeats_exactly():
    claim = jitter_claim()
    one = claim.check(seeds=range(3), perturb=2, perturb_seed=1)
    two = claim.check(seeds=range(3), perturb=2, perturb_seed=1)
    assert [p.point for p in one.points] == [{"writers": 20}, *claim.perturbed_points(2, seed=1)]
    assert [p.trials for p in one.points] == [p.trials for p in two.points]
    assert one.n == 9


def test_the_claim_renders_as_one_deterministic_line_with_its_evidence():
    verdict = jitter_claim().check(seeds=range(30))
    line = ("full jitter does less work than no jitter: 30 of 30 seeds at 20 writers; "
            "claimed for 20-40 writers, laptop SQLite, 10 ms hops")
    assert str(verdict) == line
    assert verdict._repr_markdown_() == "✓ **full jitter does less work than no jitter**: 30 of 30 seeds " \
                                        "at 20 writers; claimed for 20-40 writers, laptop SQLite, 10 ms hops"
    assert "<strong>full jitter does less work than no jitter</strong>" in verdict._repr_html_()
    assert str(jitter_claim().check(seeds=range(30))) == line


def test_a_check_at_several_points_says_how_many_and_a_fixed_domain_names_no_point():
    several = jitter_claim().check(seeds=range(4), perturb=2)
    assert f"{several.successes} of 12 seeds at 3 points; claimed for 20-40 writers" in str(several)
    fixed = jitter_claim(domain={"writers": Range(30, 30, integer=True, unit="writers")}).check(seeds=range(4))
    assert str(fixed).startswith("full jitter does less work than no jitter: 4 of 4 seeds; claimed for 30 writers")


def test_a_failed_claim_says_so_in_its_line():
    assert str(flipping_claim().check(seeds=range(10))).endswith("[FALSE]")
    assert str(flipping_claim().check(seeds=range(4))).endswith("[FRAGILE]")


def test_the_held_out_seeds_are_thirty_seeds_from_ten_thousand():
    assert HELD_OUT_SEEDS == range(10_000, 10_030)


@pytest.mark.parametrize("k, n, low, high", [(30, 30, 0.886, 1.0), (15, 30, 0.331, 0.669), (0, 10, 0.0, 0.278)])
def test_the_wilson_interval_matches_published_values(k, n, low, high):
    got = wilson_interval(k, n, 0.95)
    assert got == pytest.approx((low, high), abs=1e-3)


def test_parallel_and_sequential_checks_agree():
    from aether.claims.catalog import claims

    claim = claims(1)[0]
    assert claim.check(seeds=range(4), jobs=2).points == claim.check(seeds=range(4), jobs=1).points
