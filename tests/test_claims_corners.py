"""Corners: a claim is checked where its domain ends, every axis at its low or high end."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pytest

from aether.claims import (
    MAX_CORNERS,
    Arm,
    Claim,
    Metric,
    Range,
    at_least,
    at_most,
    check_claims,
    committed_share,
    contention_arm,
)
from aether.claims.__main__ import main, parse_corners
from aether.experiment.profiles import LAPTOP_SQLITE
from aether.patterns import jitter_retry


def echo_point(params: Mapping[str, Any], seed: int, profile: Any) -> dict[str, Any]:
    """A runner that runs nothing: its 'result' is the point it was given."""
    return dict(params)


def read_x(result: Mapping[str, Any]) -> float:
    return float(result["x"])


ECHO = Arm("echo", echo_point)
X = Metric("x", read_x)


def edge_claim(limit: float) -> Claim:
    """'x stays at most *limit*' over x in 0-1: with limit < 1 false only at the corner x = 1."""
    return Claim(chapter=0, id="x-below-limit", statement=f"x stays at most {limit:g}", subject=ECHO, metric=X,
                 relation=at_most(limit), domain={"x": Range(0.0, 1.0, unit="x")}, profile=LAPTOP_SQLITE)


def claim_over(domain: Mapping[str, Range], **changes: Any) -> Claim:
    return Claim(chapter=0, id="over-a-domain", statement="x is anything", subject=ECHO,
                 metric=Metric("one", functools.partial(float, 1.0)), relation=at_least(1.0), domain=domain,
                 profile=LAPTOP_SQLITE, **changes)


# -- which points are corners ---------------------------------------------------------------------


def test_an_integer_range_ends_at_its_integer_bounds():
    ends = Range(5, 35, integer=True).ends()
    assert ends == (5, 35) and all(type(end) is int for end in ends)


def test_a_log_range_ends_at_its_stated_bounds_not_their_logs():
    assert Range(10, 60, log=True).ends() == (10.0, 60.0)


def test_a_float_range_ends_at_float_bounds():
    ends = Range(0.05, 0.2).ends()
    assert ends == (0.05, 0.2) and all(type(end) is float for end in ends)


def test_a_single_value_range_has_one_end():
    assert Range(50, 50, integer=True).ends() == (50,)


def test_all_corners_are_every_combination_of_ends_first_axis_slowest():
    claim = claim_over({"writers": Range(10, 100, integer=True), "scale": Range(1, 30, log=True),
                        "think": Range(0.05, 0.2), "saves": Range(1, 1, integer=True)})
    assert claim.corner_count() == 8
    assert claim.corners("all") == [
        {"writers": w, "scale": s, "think": t, "saves": 1}
        for w in (10, 100) for s in (1.0, 30.0) for t in (0.05, 0.2)
    ]
    assert all(type(c["writers"]) is int and type(c["scale"]) is float for c in claim.corners())


def test_the_claims_own_point_is_left_out_when_excluded():
    claim = claim_over({"writers": Range(10, 100, integer=True)})  # its point is the low end
    assert claim.corners("all", exclude=[claim.at]) == [{"writers": 100}]
    assert claim.corners(1, exclude=[claim.at]) == [{"writers": 100}]


def test_a_sample_of_corners_is_seeded_distinct_and_in_enumeration_order():
    claim = claim_over({f"a{i}": Range(0, 1) for i in range(4)})  # 16 corners
    every = claim.corners("all")
    sample = claim.corners(5, seed=3)
    assert sample == claim.corners(5, seed=3) and sample != claim.corners(5, seed=4)
    assert len({tuple(c.values()) for c in sample}) == 5
    assert sample == [c for c in every if c in sample]


def test_asking_for_more_corners_than_exist_gives_them_all():
    claim = claim_over({"writers": Range(10, 100, integer=True)})
    assert claim.corners(10) == claim.corners("all") == [{"writers": 10}, {"writers": 100}]


def test_zero_corners_is_none():
    assert claim_over({"writers": Range(10, 100, integer=True)}).corners(0) == []


def test_many_axes_are_sampled_without_enumerating_every_corner():
    claim = claim_over({f"a{i}": Range(0, 1) for i in range(20)})  # 2**20 corners
    assert claim.corner_count() == 2 ** 20 > MAX_CORNERS
    sample = claim.corners(3, seed=1, exclude=[claim.at])
    assert len(sample) == 3 and claim.at not in sample
    assert all(set(c.values()) <= {0.0, 1.0} for c in sample)
    with pytest.raises(ValueError, match=r"count='all' would check 1048576 corners.*pass a number"):
        claim.corners("all")


@pytest.mark.parametrize("count, error", [("some", ValueError), (-1, ValueError), (2.0, TypeError),
                                          (True, TypeError), (None, TypeError)])
def test_a_bad_corner_count_is_refused_naming_it(count, error):
    claim = claim_over({"writers": Range(10, 100, integer=True)})
    with pytest.raises(error, match="count"):
        claim.corners(count)
    with pytest.raises(error, match="corners"):
        check_claims([claim], range(1), corners=count)


# -- checking at the corners ------------------------------------------------------------------------


def test_random_points_miss_a_claim_broken_only_at_a_corner():
    assert edge_claim(0.999).check(seeds=range(30), perturb=5).passed


def test_a_claim_broken_at_a_corner_fails_and_names_that_corner():
    verdict = edge_claim(0.999).check(seeds=range(30), perturb=5, corners="all")
    assert not verdict.passed and verdict.status == "false"
    [failed] = verdict.failed_points
    assert failed.point == {"x": 1.0} and failed.corner and failed.kind == "corner"
    assert "ch00/x-below-limit is false at x=1 (corner): 0 of 30 seeds held" in verdict.message
    assert "seed 0 (echo 1)" in verdict.message


def test_a_claim_that_holds_everywhere_passes_at_every_corner():
    verdict = edge_claim(1.0).check(seeds=range(30), corners="all")
    assert verdict.passed
    assert [(p.point, p.kind) for p in verdict.points] == [({"x": 0.0}, "claim's point"), ({"x": 1.0}, "corner")]


def test_a_real_claim_holds_at_its_corners_in_order_after_its_point():
    claim = Claim(chapter=3, id="jitter-commits", statement="full jitter commits every save",
                  subject=contention_arm("full jitter", jitter_retry), metric=committed_share(),
                  relation=at_least(1.0), domain={"writers": Range(2, 5, integer=True, unit="writers")},
                  at={"writers": 3}, profile=LAPTOP_SQLITE)
    verdict = claim.check(seeds=range(30), perturb=1, corners="all")
    assert verdict.passed
    assert [p.point for p in verdict.points] == [{"writers": 3}, *claim.perturbed_points(1),
                                                 {"writers": 2}, {"writers": 5}]
    assert [p.kind for p in verdict.points] == ["claim's point", "perturbed", "corner", "corner"]


def test_a_corner_that_is_the_claims_own_point_is_run_once():
    verdict = edge_claim(1.0).check(seeds=range(3), corners="all")
    assert len(verdict.points) == 2 and verdict.n == 6


# -- the command ------------------------------------------------------------------------------------


@pytest.fixture
def fake_catalog(monkeypatch):
    import aether.claims.catalog as catalog

    chosen: list[Claim] = []
    monkeypatch.setattr(catalog, "claims", lambda chapter=None: [c for c in chosen
                                                                 if chapter is None or c.chapter == chapter])
    return chosen


def test_the_command_checks_every_corner_and_names_the_one_that_broke(fake_catalog, capsys):
    fake_catalog.append(edge_claim(0.999))
    assert main(["check", "--quiet", "--corners", "all"]) == 1
    out = capsys.readouterr().out
    assert "ch00/x-below-limit is false at x=1 (corner): 0 of 30 seeds held" in out


def test_the_command_without_corners_misses_that_claim(fake_catalog, capsys):
    fake_catalog.append(edge_claim(0.999))
    assert main(["check", "--quiet", "--perturb", "3"]) == 0


def test_the_command_states_the_corners_it_checks_on_stderr(fake_catalog, capsys):
    fake_catalog.append(edge_claim(1.0))
    assert main(["check", "--corners", "1", "--seeds", "1-30"]) == 0
    assert "0 perturbed point(s) and 1 corner(s) each" in capsys.readouterr().err


def test_corner_counts_parse_as_all_or_a_number():
    assert parse_corners("all") == "all" and parse_corners("3") == 3


@pytest.mark.parametrize("text", ["every", "-1", "1.5"])
def test_a_bad_corner_count_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["check", "--corners", text])
    assert stop.value.code == 2
    assert "--corners must be 'all' or an int >= 0" in capsys.readouterr().err
