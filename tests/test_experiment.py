"""The contention harness: determinism, the network model, the recorder and the post-run check."""

from __future__ import annotations

import random
import statistics
from typing import Any

import pandas as pd
import pytest

from aether import Event, InMemoryEventStore, SimulatedClock, StoreUnavailableError, VersionConflictError
from aether.display import format_table
from aether.experiment import (
    AbsNormal,
    Constant,
    ExperimentInvariantError,
    Exponential,
    LatencySpike,
    NetworkModel,
    NetworkStore,
    Outage,
    RunContext,
    Uniform,
    compare,
    pattern_name,
    run_contention,
    run_load,
    sweep,
    verify_store,
)
from aether.patterns import immediate_retry, no_retry


def backoff_retry(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any,
                  rng: random.Random) -> Event:
    """A small randomised-backoff pattern used to exercise the harness."""
    for attempt in range(50):
        version = store.get_latest_version(actor_id)
        event = Event(actor_id=actor_id, event_type=event_type, version=version + 1, data=data)
        try:
            store.save_event(event)
            return event
        except VersionConflictError:
            clock.sleep(rng.uniform(0, 0.005 * 2 ** min(attempt, 8)))
    raise AssertionError("unreachable in these tests")


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_tables() -> None:
    first = run_contention(backoff_retry, writers=30, saves_per_writer=2, seed=7)
    second = run_contention(backoff_retry, writers=30, saves_per_writer=2, seed=7)
    pd.testing.assert_frame_equal(first.saves, second.saves)
    pd.testing.assert_frame_equal(first.calls, second.calls)


def test_different_seeds_give_different_runs() -> None:
    first = run_contention(backoff_retry, writers=30, seed=1)
    second = run_contention(backoff_retry, writers=30, seed=2)
    assert not first.calls[["start", "end"]].equals(second.calls[["start", "end"]])


def test_network_delays_do_not_depend_on_the_pattern() -> None:
    # Common random numbers: the first read of every writer costs the same under any pattern.
    a = run_contention(no_retry, writers=10, seed=3).calls
    b = run_contention(backoff_retry, writers=10, seed=3).calls
    first_reads_a = a[(a["op"] == "get_latest_version") & (a["call"] == 1)].set_index("writer")["end"]
    first_reads_b = b[(b["op"] == "get_latest_version") & (b["call"] == 1)].set_index("writer")["end"]
    pd.testing.assert_series_equal(first_reads_a.sort_index(), first_reads_b.sort_index())


# --------------------------------------------------------------------------- tables and summary


def test_saves_table_has_one_row_per_logical_save() -> None:
    result = run_contention(backoff_retry, writers=12, saves_per_writer=3, actors=2, seed=0)
    saves = result.saves
    assert len(saves) == 36
    assert sorted(zip(saves["writer"], saves["save"], strict=True)) == [(w, s) for w in range(12) for s in range(3)]
    assert (saves["outcome"] == "committed").all()
    assert (saves["latency"] == saves["end"] - saves["start"]).all()
    assert (saves["retries"] == saves["attempts"] - 1).all()
    assert set(saves["actor_id"]) == {"actor-0", "actor-1"}


def test_committed_versions_are_each_actors_gapless_sequence() -> None:
    result = run_contention(backoff_retry, writers=10, saves_per_writer=4, actors=3, seed=5)
    for actor, group in result.saves.groupby("actor_id"):
        assert sorted(group["version"].tolist()) == list(range(1, len(group) + 1)), actor


def test_summary_agrees_with_the_tables() -> None:
    result = run_contention(backoff_retry, writers=25, seed=4)
    summary = result.summary()
    calls, saves = result.calls, result.saves
    writes = calls[calls["op"] == "save_event"]
    assert summary.committed == 25 and summary.failed == 0
    assert summary.calls == len(calls)
    assert summary.write_calls == len(writes) == saves["attempts"].sum()
    assert summary.wasted_calls == int((writes["result"] == "conflict").sum()) == summary.write_calls - 25
    assert summary.max_retries == saves["retries"].max()
    assert summary.p50 <= summary.p95 <= summary.p99 <= saves["latency"].max()
    assert summary.makespan == saves["end"].max()
    assert summary.throughput == pytest.approx(25 / summary.makespan)


def test_escaped_conflicts_are_counted_as_conflicts() -> None:
    summary = run_contention(no_retry, writers=20, seed=0).summary()
    assert summary.committed >= 1
    assert summary.conflicts == 20 - summary.committed
    assert summary.errors == 0 and summary.gave_up == 0


def test_other_errors_are_recorded_not_raised() -> None:
    def broken(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
        raise KeyError("bug in the pattern")

    expected = "3 save\\(s\\) of 'broken' failed with an unexpected error; the first: KeyError"
    with pytest.warns(RuntimeWarning, match=expected):
        result = run_contention(broken, writers=3, seed=0)
    assert list(result.saves["outcome"]) == ["error"] * 3
    assert list(result.saves["error"]) == ["KeyError"] * 3


# --------------------------------------------------------------------------- the recorder


class CountingStore(InMemoryEventStore):
    """An in-memory store that counts the calls that really reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = {"save_event": 0, "get_latest_version": 0, "get_events": 0}

    def save_event(self, event: Event) -> None:
        self.counts["save_event"] += 1
        super().save_event(event)

    def get_latest_version(self, actor_id: str) -> int:
        self.counts["get_latest_version"] += 1
        return super().get_latest_version(actor_id)


def test_recorder_logs_every_store_call_exactly_once() -> None:
    store = CountingStore()
    result = run_contention(backoff_retry, writers=15, seed=2, store=store, verify=False)
    by_op = result.calls["op"].value_counts()
    assert by_op["save_event"] == store.counts["save_event"]
    # verify=False: the harness itself made one baseline read per actor before the run.
    assert by_op["get_latest_version"] == store.counts["get_latest_version"] - 1


def test_recorder_numbers_attempts_and_classifies_results() -> None:
    result = run_contention(backoff_retry, writers=10, seed=9)
    calls = result.calls
    writes = calls[calls["op"] == "save_event"]
    for (writer, _save), group in writes.groupby(["writer", "save"]):
        assert list(group.sort_values("call")["attempt"]) == list(range(1, len(group) + 1)), writer
        assert list(group.sort_values("call")["result"])[-1] == "ok"
    conflicts = writes[writes["result"] == "conflict"]
    assert (conflicts["current_version"] >= conflicts["attempted_version"]).all()
    ok = writes[writes["result"] == "ok"]
    assert (ok["current_version"] == ok["attempted_version"]).all()
    assert (calls["end"] >= calls["start"]).all()


# --------------------------------------------------------------------------- the network model


def test_abs_normal_matches_the_classic_model() -> None:
    rng = random.Random(0)
    model = AbsNormal(0.010, 0.002)
    samples = [model.sample(rng) for _ in range(20000)]
    assert min(samples) >= 0
    assert statistics.fmean(samples) == pytest.approx(0.010, rel=0.01)
    assert statistics.stdev(samples) == pytest.approx(0.002, rel=0.03)
    assert model.mean == pytest.approx(0.010, rel=1e-6)


def test_other_delay_distributions() -> None:
    rng = random.Random(1)
    assert Constant(0.25).sample(rng) == 0.25
    uniform = [Uniform(0.1, 0.2).sample(rng) for _ in range(5000)]
    assert 0.1 <= min(uniform) and max(uniform) <= 0.2
    assert statistics.fmean(uniform) == pytest.approx(0.15, rel=0.02)
    expo = [Exponential(0.05).sample(rng) for _ in range(20000)]
    assert statistics.fmean(expo) == pytest.approx(0.05, rel=0.03)


@pytest.mark.parametrize(
    "make",
    [lambda: Constant(-1), lambda: Uniform(0.2, 0.1), lambda: AbsNormal(float("nan")), lambda: Outage(2, 1),
     lambda: LatencySpike(1, 1, 0.1), lambda: Exponential(float("inf"))],
)
def test_bad_delays_and_faults_are_refused(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


def test_each_call_costs_a_request_and_a_response_hop() -> None:
    clock = SimulatedClock()
    net = NetworkStore(InMemoryEventStore(), NetworkModel(hop=Constant(0.01)), clock, random.Random(0))
    assert net.get_latest_version("a") == 0
    assert clock.now() == pytest.approx(0.02)
    net.save_event(Event(actor_id="a", event_type="t", version=1))
    assert clock.now() == pytest.approx(0.04)


def test_think_time_follows_each_read() -> None:
    clock = SimulatedClock()
    model = NetworkModel(hop=Constant(0.01), think_time=Constant(0.1))
    NetworkStore(InMemoryEventStore(), model, clock, random.Random(0)).get_latest_version("a")
    assert clock.now() == pytest.approx(0.12)


def test_think_time_follows_a_decisions_read_of_the_whole_state_but_not_a_lookup_of_one_event() -> None:
    clock = SimulatedClock()
    model = NetworkModel(hop=Constant(0.01), think_time=Constant(0.1))
    net = NetworkStore(InMemoryEventStore(), model, clock, random.Random(0))
    net.get_events("a")
    assert clock.now() == pytest.approx(0.12)
    net.get_events("a", 5)
    assert clock.now() == pytest.approx(0.14)


def test_a_decided_save_widens_its_race_window_by_the_think_time() -> None:
    from aether.experiment import run_contention
    from aether.patterns import jitter_retry

    def decide(events: list) -> dict:
        return {"n": len(events)}

    def pattern(store, actor_id, event_type, data=None, **kw):  # noqa: ANN001, ANN003, ANN202
        return jitter_retry(store, actor_id, event_type, decide, **kw)  # the data is a decision

    quick = run_contention(pattern, writers=20, seed=3)
    slow = run_contention(pattern, writers=20, seed=3, network=NetworkModel(think_time=Constant(0.1)))
    assert slow.summary().write_calls > quick.summary().write_calls


def test_an_outage_fails_calls_and_changes_nothing() -> None:
    clock = SimulatedClock()
    store = InMemoryEventStore()
    model = NetworkModel(hop=Constant(0.01), outages=(Outage(0.0, 1.0),))
    net = NetworkStore(store, model, clock, random.Random(0))
    with pytest.raises(StoreUnavailableError, match="outage"):
        net.save_event(Event(actor_id="a", event_type="t", version=1))
    assert store.get_latest_version("a") == 0
    clock.sleep(1.0)
    net.save_event(Event(actor_id="a", event_type="t", version=1))
    assert store.get_latest_version("a") == 1


def test_a_latency_spike_slows_hops_inside_its_window() -> None:
    clock = SimulatedClock()
    model = NetworkModel(hop=Constant(0.01), spikes=(LatencySpike(0.0, 0.5, 0.2),))
    net = NetworkStore(InMemoryEventStore(), model, clock, random.Random(0))
    net.get_latest_version("a")
    assert clock.now() == pytest.approx(0.42)
    clock.sleep(1.0)
    before = clock.now()
    net.get_latest_version("a")
    assert clock.now() - before == pytest.approx(0.02)


def test_instant_network_costs_no_time() -> None:
    result = run_contention(no_retry, writers=5, seed=0, network=NetworkModel.instant())
    assert result.calls["end"].max() == result.calls["start"].min() == 0.0


def test_outage_in_a_run_shows_up_as_unavailable_calls() -> None:
    model = NetworkModel(outages=(Outage(0.0, 0.05),))
    with pytest.warns(RuntimeWarning, match="StoreUnavailableError"):
        result = run_contention(backoff_retry, writers=5, seed=0, network=model)
    assert (result.calls["result"] == "unavailable").any()
    assert set(result.saves["outcome"]) == {"unavailable"}  # the store error the pattern let through
    assert set(result.saves["error"]) == {"StoreUnavailableError"}


# --------------------------------------------------------------------------- the post-run check


class LosingStore(InMemoryEventStore):
    """Acknowledges every 4th save without storing it."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save_event(self, event: Event) -> None:
        self.saves += 1
        if self.saves % 4 == 0:
            return
        super().save_event(event)


class SneakyStore(InMemoryEventStore):
    """Stores an extra event nobody asked for after the 3rd save."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save_event(self, event: Event) -> None:
        super().save_event(event)
        self.saves += 1
        if self.saves == 3:
            super().save_event(Event(actor_id=event.actor_id, event_type="Ghost", version=event.version + 1))


@pytest.mark.parametrize("store_type", [LosingStore, SneakyStore])
def test_the_post_run_check_catches_a_broken_store(store_type: type) -> None:
    with pytest.raises(ExperimentInvariantError):
        run_contention(backoff_retry, writers=8, seed=0, store=store_type())


def test_the_post_run_check_catches_a_pattern_that_lies() -> None:
    def liar(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
        return Event(actor_id=actor_id, event_type=event_type, version=1)

    with pytest.raises(ExperimentInvariantError, match="not in the store"):
        run_contention(liar, writers=2, seed=0)


def test_a_store_class_is_used_as_a_factory() -> None:
    result = run_contention(backoff_retry, writers=3, seed=0, store=CountingStore)
    assert isinstance(result.store, CountingStore)
    assert result.store.counts["save_event"] == result.summary().write_calls


def test_a_store_with_earlier_events_is_checked_from_its_baseline() -> None:
    store = InMemoryEventStore()
    for v in range(1, 4):
        store.save_event(Event(actor_id="actor-0", event_type="Earlier", version=v))
    result = run_contention(backoff_retry, writers=4, seed=0, store=store)
    assert sorted(result.saves["version"]) == [4, 5, 6, 7]


# --------------------------------------------------------------------------- stateful patterns


class CountingPattern:
    """A Bindable pattern: shared state per run, and a close() hook."""

    name = "counting"

    def __init__(self) -> None:
        self.contexts: list[RunContext] = []
        self.closed_at: list[float] = []

    def bind(self, ctx: RunContext) -> Any:
        self.contexts.append(ctx)

        def save(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any, rng: Any) -> Event:
            return backoff_retry(store, actor_id, event_type, data, clock=clock, rng=rng)

        save.close = lambda: self.closed_at.append(ctx.clock.now())  # type: ignore[attr-defined]
        return save


def test_bindable_patterns_are_bound_once_per_run_and_closed_after_the_writers() -> None:
    pattern = CountingPattern()
    result = run_contention(pattern, writers=6, seed=0)
    assert len(pattern.contexts) == 1
    assert pattern.closed_at == [pytest.approx(result.saves["end"].max())]
    assert result.pattern == "counting"


def test_pattern_names() -> None:
    import functools

    assert pattern_name(no_retry) == "no_retry"
    assert pattern_name(functools.partial(immediate_retry, max_attempts=3)) == "immediate_retry(max_attempts=3)"
    assert pattern_name(CountingPattern()) == "counting"


# --------------------------------------------------------------------------- real mode


@pytest.mark.slow
def test_real_threads_run_the_same_pattern_without_loss() -> None:
    result = run_contention(backoff_retry, writers=6, saves_per_writer=5, clock="real", seed=0,
                            network=NetworkModel(hop=Constant(0.001)))
    assert result.clock == "real"
    assert result.summary().committed == 30
    assert sorted(result.saves["version"]) == list(range(1, 31))


@pytest.mark.slow
def test_real_processes_share_one_sqlite_file() -> None:
    result = run_contention(backoff_retry, writers=4, saves_per_writer=5, clock="real", seed=0, store="sqlite",
                            network=NetworkModel(hop=Constant(0.001)))
    assert result.summary().committed == 20
    assert sorted(result.saves["version"]) == list(range(1, 21))
    assert len(result.store.get_events("actor-0")) == 20


# --------------------------------------------------------------------------- sweep and validation


def test_sweep_has_one_row_per_pattern_writer_count_and_seed() -> None:
    table = sweep({"none": no_retry, "backoff": backoff_retry}, writers=[2, 5], seeds=[0, 1])
    assert len(table) == 8
    assert list(table.groupby(["pattern", "writers"]).size()) == [2, 2, 2, 2]
    assert {"committed", "write_calls", "makespan", "p95"} <= set(table.columns)
    assert (table[table["pattern"] == "backoff"]["committed"] == table[table["pattern"] == "backoff"]["writers"]).all()


@pytest.mark.parametrize(
    "kwargs",
    [{"writers": 0}, {"writers": 2, "saves_per_writer": 0}, {"writers": 10**9},
     {"writers": 2, "actors": 0}, {"writers": 2, "clock": "wall"}, {"writers": 2, "seed": -1},
     {"writers": 2, "start_spread": -1.0}, {"writers": 2, "start_spread": 10**400}, {"writers": 2, "store": "postgres"},
     {"writers": 2, "event_type": ""}],
)
def test_bad_argument_values_are_refused_clearly(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        run_contention(no_retry, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"writers": 2.5}, {"writers": True}, {"writers": 2, "start_spread": True}, {"writers": 2, "verify": "no"},
     {"writers": 2, "event_type": 5}, {"writers": 2, "network": 5}],
)
def test_bad_argument_types_are_refused_clearly(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        run_contention(no_retry, **kwargs)


def test_a_sweep_refuses_a_single_writer_count_that_is_not_a_list() -> None:
    with pytest.raises(TypeError, match="writers must be an iterable"):
        sweep(no_retry, writers=5)


def test_format_table_uses_explicit_formats() -> None:
    frame = pd.DataFrame({"pattern": ["a", "bb"], "p95": [0.0123, 1.5]})
    text = format_table(frame, {"pattern": "", "p95": ".3f"}, headers={"p95": "p95 (s)"})
    assert text.splitlines() == ["pattern  p95 (s)", "-------  -------", "a          0.012", "bb         1.500"]
    with pytest.raises(KeyError, match="nope"):
        format_table(frame, {"nope": ""})


class TicketPattern:
    """A Bindable pattern that defers every save to a background task, like a retry queue."""

    name = "tickets"

    def __init__(self, fail_every: int = 0) -> None:
        self.fail_every = fail_every

    def bind(self, ctx: RunContext) -> Any:
        store = ctx.store_for()
        pending: list[Any] = []
        fail_every = self.fail_every

        class Ticket:
            def __init__(self, actor_id: str, event_type: str, data: Any) -> None:
                self.args = (actor_id, event_type, data)
                self.outcome, self.event, self.settled_at, self.attempts = "pending", None, None, 0

        def save(store_: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Ticket:
            ticket = Ticket(actor_id, event_type, data)
            pending.append(ticket)
            return ticket

        def close() -> None:
            for number, ticket in enumerate(pending, start=1):
                ctx.clock.sleep(0.01)
                if fail_every and number % fail_every == 0:
                    ticket.outcome = "dead_letter"
                    continue
                version = store.get_latest_version(ticket.args[0])
                ticket.event = Event(actor_id=ticket.args[0], event_type=ticket.args[1], version=version + 1)
                store.save_event(ticket.event)
                ticket.outcome, ticket.settled_at, ticket.attempts = "committed", ctx.clock.now(), 1

        save.close = close  # type: ignore[attr-defined]
        return save


def test_deferred_saves_are_settled_after_the_run_and_timed_to_their_commit() -> None:
    result = run_contention(TicketPattern(), writers=4, seed=0, network=NetworkModel.instant())
    saves = result.saves
    assert saves["deferred"].all()
    assert (saves["outcome"] == "committed").all() and (saves["latency"] == 0).all()
    assert sorted(saves["commit_delay"]) == pytest.approx([0.01, 0.02, 0.03, 0.04])
    summary = result.summary()
    assert summary.deferred == 4 and summary.committed == 4
    assert summary.commit_delay_p95 == pytest.approx(saves["commit_delay"].quantile(0.95))
    assert summary.makespan == pytest.approx(0.04)
    assert "time to commit p50/p95" in str(summary)


def test_dead_letters_are_counted_as_failures_of_their_own() -> None:
    summary = run_contention(TicketPattern(fail_every=2), writers=4, seed=0,
                             network=NetworkModel.instant()).summary()
    assert (summary.committed, summary.dead_letters, summary.errors, summary.failed) == (2, 2, 0, 2)
    assert "dead letters 2" in str(summary)


def test_a_plain_run_prints_no_deferred_lines() -> None:
    text = str(run_contention(no_retry, writers=2, seed=0).summary())
    assert "time to commit" not in text and "dead letters" not in text


def test_network_model_refuses_faults_of_the_wrong_kind() -> None:
    with pytest.raises(TypeError, match="Outage items"):
        NetworkModel(outages=(LatencySpike(0, 1, 0.1),))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LatencySpike items"):
        NetworkModel(spikes=(Outage(0, 1),))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a Delay"):
        NetworkModel(hop=0.01)  # type: ignore[arg-type]


def test_a_pattern_returning_something_else_fails_its_save_clearly() -> None:
    def returns_version(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> int:
        event = Event(actor_id=actor_id, event_type=event_type, version=store.get_latest_version(actor_id) + 1)
        store.save_event(event)
        return event.version

    with pytest.warns(RuntimeWarning, match="returned 1; a pattern returns the stored Event"):
        result = run_contention(returns_version, writers=1, seed=0, verify=False)
    assert list(result.saves["outcome"]) == ["error"]
    assert result.saves["error"][0] == "pattern returned int, not an Event or a ticket"


def test_numpy_integers_are_accepted_as_counts() -> None:
    import numpy as np

    result = run_contention(no_retry, writers=np.int64(3), seed=np.int64(1))
    assert result.writers == 3 and result.seed == 1 and type(result.writers) is int


def test_labels_never_contain_memory_addresses() -> None:
    import functools

    label = pattern_name(functools.partial(immediate_retry, max_attempts=3, hook=lambda: None))
    assert label == "immediate_retry(max_attempts=3, hook=<lambda>)"


def test_a_failed_run_removes_its_temporary_database(monkeypatch: Any, tmp_path: Any) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def liar(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
        return Event(actor_id=actor_id, event_type=event_type, version=1)

    with pytest.raises(ExperimentInvariantError):
        run_contention(liar, writers=2, seed=0, store="sqlite")
    assert list(tmp_path.iterdir()) == []


def _dies(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    import os

    os._exit(3)


@pytest.mark.slow
def test_a_writer_process_that_dies_is_reported_not_waited_for() -> None:
    with pytest.raises(RuntimeError, match=r"writer-0 \(exit code 3\)"):
        run_contention(_dies, writers=1, seed=0, clock="real", store="sqlite", network=None)


def test_a_seeded_run_is_identical_in_fresh_interpreters_with_different_hash_seeds() -> None:
    # What every attendee's laptop does: a new process, its own string-hash salt.
    import os
    import subprocess
    import sys

    code = (
        "import hashlib, functools\n"
        "from aether.experiment import run_contention\n"
        "from aether.patterns import jitter_retry\n"
        "r = run_contention(functools.partial(jitter_retry, jitter='decorrelated'), writers=15, actors=3,\n"
        "                   saves_per_writer=2, seed=4)\n"
        "text = r.saves.to_csv(index=False) + r.calls.to_csv(index=False) + str(r.summary())\n"
        "print(hashlib.sha256(text.encode()).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_a_sweep_can_add_measured_columns_to_each_row() -> None:
    table = sweep(no_retry, writers=[2, 3], seeds=[0], measure=lambda r: {"rows": len(r.saves)})
    assert table["rows"].tolist() == [2, 3]


def test_a_parallel_sweep_returns_exactly_the_sequential_frame() -> None:
    kwargs = {"writers": [2, 8], "seeds": [0, 1], "measure": lambda r: {"calls_seen": len(r.calls)}}
    sequential = sweep({"none": no_retry, "backoff": backoff_retry}, **kwargs)
    parallel = sweep({"none": no_retry, "backoff": backoff_retry}, jobs=2, **kwargs)
    pd.testing.assert_frame_equal(sequential, parallel)


def test_a_policy_that_has_run_can_still_go_to_a_parallel_sweep() -> None:
    import pickle

    from aether.patterns import CircuitBreakerPolicy, RetryBudgetPolicy

    budget, breaker = RetryBudgetPolicy(), CircuitBreakerPolicy()
    for policy in (budget, breaker):
        run_contention(policy, writers=3, seed=0)
    copies = [pickle.loads(pickle.dumps(policy)) for policy in (budget, breaker)]
    assert [len(c.budgets if hasattr(c, "budgets") else c.breakers) for c in copies] == [0, 0]
    assert copies == [budget, breaker]  # the same settings
    table = sweep({"budget": budget, "breaker": breaker}, writers=[3], seeds=[0, 1], jobs=2)
    assert len(table) == 4


# --------------------------------------------------------------------------- limits and real-run timeouts


class _StopTheRun(BaseException):
    """Ends a run at its first save (a test that failed must not go on for a billion saves)."""


def _stop_at_once(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    raise _StopTheRun


def test_writers_times_saves_per_writer_is_checked_against_the_limit_before_anything_runs() -> None:
    from aether.experiment.spec import MAX_SAVES

    with pytest.raises(ValueError, match=f"writers x saves_per_writer must be at most {MAX_SAVES:_} saves"):
        run_contention(_stop_at_once, writers=1000, saves_per_writer=10**6)


def test_a_run_whose_memory_is_not_available_is_refused_with_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    import aether.experiment.spec as spec

    monkeypatch.setattr(spec, "available_memory", lambda: 2.0**30)  # 1 GiB available
    with pytest.raises(ValueError, match=r"rate x duration \(the expected callers\) is 2e\+06 saves, which need "
                                         r"about 5\.6 GiB .* while 1\.0 GiB is available"):
        run_load(_stop_at_once, rate=1e6, duration=2)
    with pytest.raises(ValueError, match="writers x saves_per_writer is 1e\\+06 saves"):
        run_contention(_stop_at_once, writers=1000, saves_per_writer=1000)


def _blocking(release: Any) -> Any:
    def blocked(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
        release.wait(5.0)  # stuck (for at most 5 s, so that a run without a timeout ends too)
        return immediate_retry(store, actor_id, event_type, data, clock=clock)

    return blocked


def test_a_real_thread_run_honours_its_timeout_and_names_the_writers_still_running() -> None:
    import threading

    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match=r"2 of 2 writer thread\(s\) had not finished after timeout=0.3 s: "
                                               "writer-0, writer-1"):
            run_contention(_blocking(release), writers=2, clock="real", network=None, timeout=0.3)
    finally:
        release.set()


def test_a_real_open_loop_run_honours_its_timeout() -> None:
    import threading

    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match=r"writer thread\(s\) had not finished after timeout=0.3 s"):
            run_load(_blocking(release), rate=20, duration=0.1, arrivals="even", clock="real", network=None,
                     timeout=0.3)
    finally:
        release.set()


# --------------------------------------------------------------------------- the run specification


def test_a_run_keeps_its_specification_and_running_it_again_gives_the_same_tables() -> None:
    from aether.experiment import ClosedLoop, RunSpec, run_spec

    first = run_contention(backoff_retry, writers=6, saves_per_writer=2, actors=2, start_spread=0.05, seed=3)
    assert isinstance(first.spec, RunSpec) and first.spec.workload == ClosedLoop(6, 2, 2, 0.05)
    again = run_spec(first.spec)
    pd.testing.assert_frame_equal(first.saves, again.saves)
    pd.testing.assert_frame_equal(first.calls, again.calls)


def test_a_specification_is_checked_when_it_is_made() -> None:
    from aether.experiment import ClosedLoop, OpenLoop, RunSpec

    with pytest.raises(ValueError, match="writers"):
        ClosedLoop(0)
    with pytest.raises(ValueError, match="duration"):
        OpenLoop(10.0, -1.0)
    with pytest.raises(TypeError, match="workload must be a ClosedLoop or an OpenLoop"):
        RunSpec(pattern=no_retry, workload=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="capacity must be a Capacity or None"):
        RunSpec(pattern=no_retry, workload=ClosedLoop(1), capacity="fast")


def test_a_sweep_refuses_an_unknown_run_setting_before_any_run() -> None:
    with pytest.raises(TypeError, match=r"sweep\(\) got unexpected keyword argument\(s\) \['writer_count'\]"):
        sweep(no_retry, writers=[1], seeds=[0], writer_count=3)


def test_sweep_rows_are_the_runs_their_specifications_describe() -> None:
    table = sweep({"backoff": backoff_retry}, writers=[3, 5], seeds=[1], actors=2)
    direct = [run_contention(backoff_retry, writers=w, seed=1, actors=2, name="backoff").summary().as_dict()
              for w in (3, 5)]
    pd.testing.assert_frame_equal(table, pd.DataFrame(direct))


def test_a_store_queue_needs_no_network_model() -> None:
    from aether.experiment import Capacity

    result = run_contention(no_retry, writers=2, actors=2, network=None, capacity=Capacity(service=Constant(0.01)))
    assert result.calls["end"].max() == pytest.approx(0.04)  # two reads, then two writes, 10 ms each, one server
    assert result.summary().committed == 2


def test_a_sweep_names_the_bad_seed_by_its_place() -> None:
    with pytest.raises(TypeError, match=r"^seeds\[1\] must be an int >= 0; got 'b' \(str\)"):
        sweep(immediate_retry, writers=[2], seeds=[0, "b"], network=None)


def test_a_store_factory_that_makes_no_store_is_refused_naming_the_store() -> None:
    with pytest.raises(TypeError, match=r"^store \(the factory's result\) must be an EventStore"):
        run_contention(immediate_retry, writers=2, network=None, store=lambda: "not a store")


def test_an_actor_count_beyond_a_64_bit_int_is_refused_and_every_save_its_own_actor_is_not() -> None:
    with pytest.raises(ValueError, match=r"^actors must be an int between 1 and 9_223_372_036_854_775_807"):
        run_contention(immediate_retry, writers=2, actors=10**400, network=None)
    assert len(run_contention(immediate_retry, writers=2, actors=10**9, network=None).saves) == 2


def test_verify_store_names_the_argument_that_is_not_what_it_takes() -> None:
    store = InMemoryEventStore()
    with pytest.raises(TypeError, match=r"^committed\[0\] must be an \(actor_id, event_id, version\) tuple"):
        verify_store(store, ["x"], {}, [])
    with pytest.raises(TypeError, match=r"^baseline must be a mapping of actor id to version; got 'x'"):
        verify_store(store, [], "x", [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^actors must be an iterable of actor ids; got 'a' \(str\)"):
        verify_store(store, [], {}, "a")


def test_compare_names_the_bad_scenario_by_its_place() -> None:
    with pytest.raises(TypeError, match=r"^scenarios\[0\] must be a Scenario; got 'x' \(str\)"):
        compare({"immediate": immediate_retry}, ["x"])  # type: ignore[list-item]


# --------------------------------------------------------------------------- the call log, backends, progress


def test_the_call_log_gives_back_each_call_as_the_record_it_logged() -> None:
    from aether.experiment.recorder import CallLog, CallRecord

    log = CallLog()
    first = CallRecord(1, 0, 1, "get_latest_version", 1, 0.0, 0.02, "ok", None, 0)
    second = CallRecord(1, 0, 2, "save_event", 1, 0.02, 0.04, "conflict", 1, 3)
    log.append(first)
    log.append(second)
    assert list(log) == [first, second]
    assert log[1] == second
    assert len(log) == 2


def test_the_call_log_keeps_a_version_no_int64_holds_exactly_and_gives_it_back() -> None:
    import pickle

    from aether.experiment.recorder import CallLog, CallRecord

    huge = CallRecord(1, 0, 1, "save_event", 1, 0.0, 0.02, "error", 2**70, None)
    odd = CallRecord(1, 0, 2, "get_latest_version", 2, 0.02, 0.04, "ok", None, 3.0)
    plain = CallRecord(2, 0, 1, "save_event", 1, 0.0, 0.03, "conflict", 4, 2**63 - 1)
    log = CallLog()
    for record in (huge, odd, plain):
        log.append(record)
    assert list(log) == [huge, odd, plain]
    assert log[-3] == huge and log[1].current_version == 3.0 and type(log[1].current_version) is float
    assert list(log.column("attempted_version")) == [2**70, None, 4]
    assert log.versions("attempted_version") is None  # int64 cannot hold 2**70
    assert log.versions("current_version") is None  # nor is 3.0 an int: it is kept as it came
    both = CallLog()
    both.extend(log)
    both.extend(log)
    assert list(both) == [huge, odd, plain] * 2
    assert list(pickle.loads(pickle.dumps(both))) == list(both)


def test_a_recorder_logs_a_version_beyond_int64_in_full_and_nothing_out_of_step() -> None:
    from aether.experiment.recorder import CallLog, RecordingStore

    log = CallLog()
    view = RecordingStore(InMemoryEventStore(), SimulatedClock(), 0, log)
    with pytest.raises(VersionConflictError):
        view.save_event(Event(actor_id="a", event_type="E", version=2**64))
    view.get_latest_version("a")
    assert [r.attempted_version for r in log] == [2**64, None]
    assert [r.current_version for r in log] == [0, 0]
    assert len({len(getattr(log, name)) for name in ("writer", "op", "attempted_version", "current_version")}) == 1


def test_the_call_log_refuses_to_name_a_column_that_is_not_a_version() -> None:
    from aether.experiment.recorder import CallLog

    with pytest.raises(ValueError, match="name must be one of"):
        CallLog().versions("start")


def test_the_calls_table_holds_every_logged_call_with_its_versions_missing_where_a_call_had_none() -> None:
    result = run_contention(no_retry, writers=3, seed=2)
    calls = result.calls
    assert len(calls) == len(result._records) == 6
    reads = calls[calls["op"] == "get_latest_version"]
    assert reads["attempted_version"].isna().all()
    assert calls.loc[calls["op"] == "save_event", "attempted_version"].notna().all()
    assert str(calls["current_version"].dtype) == "Int64"


def test_a_call_log_travels_by_pickle_with_its_columns() -> None:
    import pickle

    result = run_contention(no_retry, writers=2, seed=0)
    copy = pickle.loads(pickle.dumps(result._records))
    assert list(copy) == list(result._records)


def test_writer_threads_sharing_one_call_log_keep_each_call_s_fields_together() -> None:
    result = run_contention(immediate_retry, writers=8, saves_per_writer=3, clock="real",
                            network=NetworkModel(hop=Constant(0.0005)), seed=0)
    calls = result.calls
    writes = calls["op"] == "save_event"
    assert writes.sum() == result.summary().write_calls
    assert calls.loc[writes, "attempted_version"].notna().all()  # every write row carries a write's fields
    assert calls.loc[~writes, "attempted_version"].isna().all()
    per_writer = calls.sort_values(["writer", "call"]).groupby("writer")["call"]
    assert all(list(group) == list(range(1, len(group) + 1)) for _, group in per_writer)


def test_a_sweep_refuses_a_backend_it_does_not_know_naming_it() -> None:
    with pytest.raises(ValueError, match=r"backend must be one of 'loky', 'dask'; got 'spark'"):
        sweep(no_retry, writers=[1], seeds=[0], backend="spark")
    with pytest.raises(TypeError, match=r"backend must be one of"):
        sweep(no_retry, writers=[1], seeds=[0], backend=2)  # type: ignore[arg-type]


def test_the_dask_backend_without_a_client_says_how_to_make_one() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match=r"backend='dask' runs on the cluster of a dask.distributed Client"):
        sweep(no_retry, writers=[1, 2], seeds=[0], backend="dask")


def test_a_loky_sweep_returns_exactly_the_sequential_frame() -> None:
    settings = {"writers": [2, 4], "seeds": [0, 1], "progress": False}
    pd.testing.assert_frame_equal(sweep(no_retry, backend="loky", jobs=2, **settings), sweep(no_retry, **settings))


def test_a_sweep_s_progress_bar_says_what_runs(capsys: pytest.CaptureFixture[str]) -> None:
    sweep({"none": no_retry, "immediate": immediate_retry}, writers=[2, 3, 4], seeds=[0], progress=True)
    assert "sweep: 2 pattern(s) x 3 writer counts x 1 seed(s)" in capsys.readouterr().err


def test_compare_shows_one_progress_bar_labelled_with_what_it_compares(capsys: pytest.CaptureFixture[str]) -> None:
    from aether.experiment import Scenario, compare

    scenarios = [Scenario(name, {"rate": rate, "duration": 0.1}) for name, rate in (("calm", 30), ("busy", 90))]
    frame = compare({"none": no_retry, "immediate": immediate_retry}, scenarios, seeds=[0, 1], progress=True)
    assert len(frame) == 8
    err = capsys.readouterr().err
    assert "compare: 2 pattern(s) x 2 scenario(s) x 2 seed(s)" in err
    assert "sweep" not in err  # no bar of its own for each scenario's sweep
    assert "0/8 " in err  # one bar counting all eight runs
