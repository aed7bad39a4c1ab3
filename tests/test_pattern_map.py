"""Chapter 10's map of where each pattern wins: what it measures, how it is read, that its file is true."""

from __future__ import annotations

import io
import random
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from aether.errors import RetriesExhaustedError, StoreUnavailableError
from aether.events import Event
from aether.experiment import patternmap as pm
from aether.experiment import run_load
from aether.patterns import RetryBudget, budgeted_retry, no_retry
from aether.plots import plot_pattern_map
from aether.plots.style import color_for
from aether.store import InMemoryEventStore

matplotlib.use("Agg")

#: A few cells of the map, cheap to rebuild: a hot actor through an outage, at light load.
SUBSET = {"patterns": ["no retry", "full jitter", "backoff + budget", "patient jitter", "patient jitter + budget"],
          "loads": [0.4], "contention": ["hot"], "failures": ["outage"]}


def _lines(text: str) -> list[str]:
    return text.strip().split("\n")


# --------------------------------------------------------------------------- the committed file


def test_the_committed_map_matches_a_rebuild_of_a_few_of_its_cells_exactly() -> None:
    committed = set(_lines(pm.to_csv(pm.load_map())))
    rebuilt = _lines(pm.to_csv(pm.build([0, 1], progress=False, **SUBSET)))
    assert rebuilt[0] == ",".join(pm.COLUMNS)
    missing = [line for line in rebuilt[1:] if line not in committed]
    assert missing == []


def test_the_committed_map_covers_every_cell_pattern_and_seed_once() -> None:
    runs = pm.load_map()
    seeds = sorted(runs["seed"].unique())
    expected = len(pm.FAILURES) * len(pm.CONTENTION) * len(pm.LOADS) * len(pm.contenders()) * len(seeds)
    assert len(runs) == expected
    assert not runs.duplicated(["failure", "contention", "load", "pattern", "seed"]).any()
    assert len(seeds) >= 20


def test_the_build_command_writes_the_same_bytes_every_time(tmp_path: Path) -> None:
    args = ["build", "--seeds", "3-3", "--patterns", "no retry", "retry queue", "--loads", "0.7",
            "--contention", "hot", "--failures", "slowdown", "--quiet"]
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert pm.main([*args, "--out", str(first)]) == 0
    assert pm.main([*args, "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert len(_lines(first.read_text())) == 3


def test_merging_builds_of_some_patterns_gives_the_bytes_of_one_build_of_all() -> None:
    cell = {"loads": [0.85], "contention": ["spread"], "failures": ["none"]}
    first = pm.build([0, 1], patterns=["no retry"], progress=False, **cell)
    second = pm.build([0, 1], patterns=["patient jitter"], progress=False, **cell)
    whole = pm.build([0, 1], patterns=["no retry", "patient jitter"], progress=False, **cell)
    assert pm.to_csv(pm.merge(second, first)) == pm.to_csv(whole)


def test_a_build_on_two_processes_gives_the_rows_of_a_build_in_one() -> None:
    subset = {**SUBSET, "patterns": ["no retry", "backoff + breaker"]}
    assert pm.to_csv(pm.build([2], jobs=2, progress=False, **subset)) == pm.to_csv(pm.build([2], progress=False,
                                                                                              **subset))


# --------------------------------------------------------------------------- the saves and the cells


def test_each_save_of_a_contender_stores_a_decision_under_its_own_key() -> None:
    result = run_load(pm.Commanded(no_retry, "no retry"), rate=20, duration=0.5, actors=3, seed=0)
    stored = [e for a in range(3) for e in result.store.get_events(f"actor-{a}")]
    assert stored
    assert all(e.id.startswith("save-") and e.data["entry"] == e.version for e in stored)
    assert len({e.id for e in stored}) == len(stored)


def test_a_queue_contender_drains_and_its_saves_commit() -> None:
    queue = pm.contenders()["retry queue"]
    result = run_load(queue, rate=10, duration=0.5, actors=2, seed=0, **{
        k: v for k, v in pm.cell_settings("spread", "none").items() if k in ("network", "capacity")})
    assert set(result.saves["outcome"]) == {"committed"}


def test_a_cell_without_a_fault_has_no_recovery_and_one_with_a_fault_has_one() -> None:
    quiet = pm.build([0], patterns=["no retry"], loads=[0.4], contention=["spread"], failures=["none", "outage"],
                     progress=False)
    by_failure = quiet.set_index("failure")["recovered"]
    assert pd.isna(by_failure["none"]) and by_failure["outage"] in (0.0, 1.0)


def test_the_build_refuses_a_pattern_or_a_load_the_map_does_not_have() -> None:
    with pytest.raises(ValueError, match="patterns\\[0\\]"):
        pm.build([0], patterns=["bogus"])
    with pytest.raises(ValueError, match="loads\\[0\\] must be one of the map's loads"):
        pm.build([0], loads=[0.5])
    with pytest.raises(ValueError, match="contention"):
        pm.cell_settings("lukewarm", "none")


# --------------------------------------------------------------------------- reading the map


def _runs(values: dict[str, list[float]], metric: str = "committed_share") -> pd.DataFrame:
    rows = [{"failure": "none", "contention": "hot", "load": 0.4, "pattern": name, "seed": seed, "committed_share": 0.5,
             "recovered": float("nan"), "p95_outcome": 0.1, "calls_per_save": 2.0, metric: value}
            for name, series in values.items() for seed, value in enumerate(series)]
    return pd.DataFrame(rows)


def test_the_interval_is_the_t_interval_of_the_mean_over_seeds() -> None:
    summary = pm.summarise(_runs({"a": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]}))
    row = summary.iloc[0]
    half = 2.2622 * pd.Series([0.1 * i for i in range(1, 11)]).std() / 10 ** 0.5  # t(0.975, 9) = 2.2622
    assert row["committed_share"] == pytest.approx(0.55)
    assert row["committed_share_hi"] - row["committed_share"] == pytest.approx(half, rel=1e-3)


def test_a_pattern_within_the_margin_of_the_best_in_every_seed_ties_it() -> None:
    best = [0.90, 0.95, 0.85, 0.92]
    table = pm.winners(_runs({"a": best, "b": [v - 0.003 for v in best], "c": [0.1, 0.12, 0.11, 0.13]}))
    cell = table.iloc[0]
    assert cell["winner"] == "a" and not cell["clear"] and cell["ties"] == ("a", "b")


def test_a_pattern_behind_by_more_than_the_margin_in_every_seed_loses_though_the_intervals_overlap() -> None:
    best = [0.80, 0.95, 0.85, 0.92]
    runs = _runs({"a": best, "b": [v - 0.02 for v in best]})
    summary = pm.summarise(runs).set_index("pattern")
    assert summary.loc["b", "committed_share_hi"] > summary.loc["a", "committed_share_lo"]  # they overlap
    cell = pm.winners(runs).iloc[0]
    assert cell["winner"] == "a" and cell["clear"] and cell["ties"] == ("a",)


def test_a_pattern_behind_on_average_but_not_in_every_seed_ties() -> None:
    runs = _runs({"a": [0.90, 0.80, 0.95, 0.70], "b": [0.80, 0.85, 0.80, 0.75]})
    calls = pm.verdicts(runs).set_index("pattern")
    assert calls.loc["b", "diff"] < -pm.MARGINS["committed_share"] and calls.loc["b", "diff_hi"] > 0
    assert calls.loc["b", "verdict"] == "tie"


def test_a_winner_apart_from_every_other_is_clear_and_for_latency_lower_wins() -> None:
    runs = _runs({"fast": [0.10, 0.11, 0.12], "slow": [0.50, 0.52, 0.51]}, metric="p95_outcome")
    cell = pm.winners(runs, "p95_outcome").iloc[0]
    assert cell["winner"] == "fast" and cell["clear"] and cell["margin"] == pytest.approx(0.40)


def test_the_guide_names_a_clear_winner_the_patterns_of_a_tie_or_the_fewer_losers() -> None:
    board = pd.DataFrame({"failure": "none", "contention": "hot", "load": [0.4, 0.7, 0.85],
                          "winner": ["a", "b", "a"], "ties": [("a",), ("b", "c"), ("a", "b", "c")],
                          "losers": [("b", "c"), ("a", "d", "e"), ("d",)], "clear": [True, False, False]})
    assert list(pm.guide(board)["use"]) == ["a", "any of b, c", "any but d"]


def test_the_guide_follows_the_map_cell_by_cell() -> None:
    board = pm.winners(pm.load_map())
    advice = pm.guide(board)
    for (_, cell), use in zip(board.iterrows(), advice["use"], strict=True):
        if use == "any":
            assert cell["losers"] == () and len(cell["ties"]) > 1
            continue
        named = use.removeprefix("any but ").removeprefix("any of ").split(", ")
        assert named == ([cell["winner"]] if cell["clear"] else
                         list(cell["losers"]) if use.startswith("any but") else list(cell["ties"]))


# --------------------------------------------------------------------------- the patient contenders


def test_the_patient_waits_outlast_the_outage_on_average() -> None:
    base, cap, attempts = pm.PATIENT["base_delay"], pm.PATIENT["max_delay"], int(pm.PATIENT["max_attempts"])
    mean_total = sum(min(cap, base * 2 ** n) / 2 for n in range(attempts - 1))  # full jitter: half the ceiling
    assert mean_total > pm.FAULT_LENGTH


def test_the_patient_budget_refills_from_successes_and_runs_dry_in_an_outage() -> None:
    policy = pm.contenders()["patient jitter + budget"].pattern
    before = len(policy.budgets)
    run_load(pm.Commanded(policy, "patient jitter + budget"), rate=pm.CAPACITY * 0.85, seed=0,
             **pm.cell_settings("spread", "outage", duration=6.0))
    budget = policy.budgets[before]
    assert budget.retries_refused > 0  # the outage spent it: a refusal needs fewer tokens than a retry costs
    assert budget.tokens >= 1  # the successes after the outage paid for retries again


def test_successes_buy_the_spent_patient_budget_retries_again_a_tenth_each() -> None:
    budget = RetryBudget(**pm.PATIENT_BUDGET)
    while budget.allow(StoreUnavailableError("down")):
        pass
    assert budget.retries_allowed == pm.PATIENT_BUDGET["max_tokens"]
    for _ in range(25):
        budget.record_success()
    assert budget.tokens == pytest.approx(2.5)
    assert budget.allow(StoreUnavailableError("down")) and budget.allow(StoreUnavailableError("down"))
    assert not budget.allow(StoreUnavailableError("down"))


class _Down(InMemoryEventStore):
    """A store whose every write fails as unreachable."""

    writes = 0

    def save_event(self, event: Event) -> None:
        self.writes += 1
        raise StoreUnavailableError("the store is down")


class _Clock:
    """A clock whose sleeps only add up."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_the_patient_budgets_jittered_retry_gives_up_at_once_with_the_budget_spent() -> None:
    store, budget = _Down(), RetryBudget(max_tokens=1, retry_cost=1, unavailable_cost=1)
    with pytest.raises(RetriesExhaustedError, match="budget"):
        budgeted_retry(store, "a", "E", lambda events: {"x": 1}, budget=budget, clock=_Clock(), jitter="full",
                       rng=random.Random(0), **pm.PATIENT)
    assert store.writes == 2  # the first try and the one retry the bucket paid for


def test_the_patient_budgets_jittered_retry_waits_a_jittered_share_of_each_ceiling() -> None:
    store, clock = _Down(), _Clock()
    with pytest.raises(RetriesExhaustedError, match="limit"):
        budgeted_retry(store, "a", "E", lambda events: {"x": 1}, budget=RetryBudget(), clock=clock, jitter="full",
                       rng=random.Random(1), **pm.PATIENT)
    ceilings = sum(min(pm.PATIENT["max_delay"], pm.PATIENT["base_delay"] * 2 ** n) for n in range(5))
    assert store.writes == pm.PATIENT["max_attempts"]
    assert 0 < clock.t < ceilings


def test_the_map_figure_fills_a_clear_cell_with_the_winners_colour_and_hatches_a_tie() -> None:
    table = pd.DataFrame({"failure": "none", "contention": "hot", "load": [0.4, 0.7],
                          "winner": ["full jitter", "no retry"], "value": [0.9, 0.5], "lo": [0.85, 0.4],
                          "hi": [0.95, 0.6], "ties": [("full jitter",), ("no retry", "simple")],
                          "clear": [True, False]})
    ax = plot_pattern_map(table)
    patches = ax.patches
    assert matplotlib.colors.to_hex(patches[0].get_facecolor()) == color_for("full jitter").lower()
    assert patches[1].get_hatch() == "///"
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "tie (2): no retry\nsimple" in texts and "90% [85%-95%]" in texts


def test_the_map_file_text_reads_back_as_the_same_runs() -> None:
    runs = pm.build([1], patterns=["no retry"], loads=[0.85], contention=["spread"], failures=["none"],
                    progress=False)
    back = pd.read_csv(io.StringIO(pm.to_csv(runs)))
    assert pm.to_csv(back) == pm.to_csv(runs)


def test_the_build_command_on_a_local_dask_cluster_writes_the_same_bytes(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    args = ["build", "--seeds", "4-5", "--patterns", "no retry", "backoff + breaker", "--loads", "0.4",
            "--contention", "spread", "--failures", "outage", "--quiet"]
    on_cluster, here = tmp_path / "dask.csv", tmp_path / "here.csv"
    assert pm.main([*args, "--backend", "dask", "--jobs", "2", "--out", str(on_cluster)]) == 0
    assert pm.main([*args, "--out", str(here)]) == 0
    assert on_cluster.read_bytes() == here.read_bytes()
