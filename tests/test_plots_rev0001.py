"""The baseline and every-save latency figures: labelled, one line per store, counts in the legend."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from aether.plots_rev0001 import committed_counts, plot_baseline, plot_latency_every_save, plot_retry_limits

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _runs() -> pd.DataFrame:
    rows = []
    for store, slow in (("instant store", 1.0), ("1 server", 5.0)):
        for writers in (1, 10, 100):
            for seed in (0, 1):
                rows.append({"pattern": "no_retry", "store": store, "writers": writers, "seed": seed,
                             "saves": 5 * writers, "committed": 5 + seed, "makespan": 0.2 * slow * writers})
    return pd.DataFrame(rows)


def test_baseline_draws_one_line_per_store_and_the_reference_on_the_left() -> None:
    left, right = plot_baseline(_runs(), title="No retry")
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels == ["1 server", "instant store", "one winner per round (100/N)"]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["1 server", "instant store"]
    assert left.get_xscale() == right.get_xscale() == right.get_yscale() == "log"
    assert "ms" in right.get_ylabel() and "%" in left.get_ylabel()
    assert "2 seeds" in left.get_legend().get_title().get_text()


def test_baseline_plots_the_mean_over_seeds_in_milliseconds() -> None:
    _, right = plot_baseline(_runs())
    line = next(ln for ln in right.get_lines() if ln.get_label() == "instant store")
    assert list(line.get_ydata()) == pytest.approx([200.0, 2000.0, 20000.0])


def test_baseline_refuses_a_table_without_the_store_column() -> None:
    with pytest.raises(ValueError, match="store"):
        plot_baseline(_runs().drop(columns="store"))


def test_every_save_latency_names_the_committed_count_of_each_pattern() -> None:
    saves = pd.DataFrame({"pattern": ["a", "a", "a", "b", "b"], "latency": [0.01, 0.02, 0.03, 0.05, 0.5],
                          "outcome": ["committed", "conflict", "conflict", "committed", "committed"]})
    ax = plot_latency_every_save(saves)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("a: p50") and labels[0].endswith("(1 of 3 committed)")
    assert labels[1].endswith("(2 of 2 committed)")
    assert committed_counts(saves) == {"a": (1, 3), "b": (2, 2)}


def test_retry_limits_draw_three_panels_against_max_attempts_with_latency_in_ms() -> None:
    limits = pd.DataFrame([{"pattern": "simple_retry", "max_attempts": m, "seed": seed, "saves": 100,
                            "gave_up": 90 - 10 * m, "write_calls": 100 * m, "p95_all": 0.05 * 2**m}
                           for m in (1, 2, 3) for seed in (0, 1)])
    gave_up, work, latency = plot_retry_limits(limits, title="limits")
    assert list(gave_up.get_lines()[0].get_ydata()) == pytest.approx([80.0, 70.0, 60.0])
    assert list(work.get_lines()[0].get_ydata()) == pytest.approx([1.0, 2.0, 3.0])
    assert list(latency.get_lines()[0].get_ydata()) == pytest.approx([100.0, 200.0, 400.0])
    assert latency.get_yscale() == "log" and "ms" in latency.get_ylabel()
    assert "max_attempts" in work.get_xlabel() and work.get_legend() is None
