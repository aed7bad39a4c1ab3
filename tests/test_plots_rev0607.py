"""The figures of chapters 06 and 07: a breaker's states, and the latency of every save."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from aether import SimulatedClock
from aether.patterns import CircuitBreaker
from aether.plots import LOAD_COLORS, PATTERN_COLORS
from aether.plots_rev0607 import plot_breaker_states, plot_every_save


def opened_and_closed() -> CircuitBreaker:
    clock = SimulatedClock()
    breaker = CircuitBreaker(clock=clock, failure_threshold=1, reset_timeout=1.0)
    breaker.can_retry()
    breaker.record_failure()
    clock.sleep(1.0)
    breaker.can_retry()
    breaker.record_success()
    return breaker


def test_breaker_states_step_through_open_half_open_and_closed_in_sky_blue() -> None:
    ax = plot_breaker_states(opened_and_closed(), [(0.0, "failure"), (1.0, "success")], end=2.0,
                             faults=[(0.0, 0.5, "outage")])
    state = ax.get_lines()[0]
    assert list(state.get_ydata()) == [0, 2, 1, 0, 0]
    assert state.get_color() == PATTERN_COLORS["circuit breaker"]
    assert matplotlib.colors.to_hex(ax.patches[0].get_facecolor()) == LOAD_COLORS["fault"].lower()
    plt.close("all")


def test_breaker_states_refuse_an_unknown_call_kind() -> None:
    with pytest.raises(ValueError, match="call kinds"):
        plot_breaker_states(opened_and_closed(), [(0.0, "lost")], end=1.0)


def test_every_save_counts_the_committed_and_keeps_the_failed_in_the_curve() -> None:
    saves = pd.DataFrame({"pattern": ["circuit breaker"] * 4,
                          "latency": [0.0, 0.01, 0.02, 0.5],
                          "outcome": ["rejected", "committed", "committed", "committed"]})
    ax = plot_every_save(saves)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("circuit breaker: 3 of 4 committed")
    curve = ax.get_lines()[0]
    assert curve.get_ydata()[-1] == 100.0 and len(curve.get_xdata()) == 4
    assert ax.get_xscale() == "log"
    plt.close("all")


def test_every_save_needs_the_outcome_column() -> None:
    with pytest.raises(ValueError, match="outcome"):
        plot_every_save(pd.DataFrame({"pattern": ["a"], "latency": [0.1]}))
