"""The open-loop experiment on the real PostgreSQL server: same tables as the simulated one, and bounded.

Each test runs a few dozen callers against the test process's own local
server, on a schema of its own.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest
from storehelpers import postgres_conninfo

if os.environ.get("CI", "").lower() != "true":
    pytest.importorskip("psycopg", reason='needs psycopg 3: pip install -e ".[postgres]"')

import psycopg  # noqa: E402

from aether.contracts import RunContext  # noqa: E402
from aether.experiment import run_load  # noqa: E402
from aether.experiment.realload import run_load_real  # noqa: E402
from aether.patterns import immediate_retry, jitter_retry, retry_on_failure  # noqa: E402
from aether.store.memory import InMemoryEventStore  # noqa: E402
from aether.store.postgres import PostgresEventStore  # noqa: E402

RATE, DURATION = 30.0, 1.0


@pytest.fixture
def store() -> PostgresEventStore:
    return PostgresEventStore(postgres_conninfo("load"))


def test_a_real_run_has_the_simulated_runs_tables_and_callers(store: PostgresEventStore) -> None:
    real = run_load_real(immediate_retry, store=store, rate=RATE, duration=DURATION, actors=5, seed=3)
    simulated = run_load(immediate_retry, rate=RATE, duration=DURATION, actors=5, seed=3)

    assert list(real.saves.columns) == list(simulated.saves.columns)
    assert list(real.timeline().columns) == list(simulated.timeline().columns)
    assert real.saves[["writer", "actor_id"]].values.tolist() == simulated.saves[["writer", "actor_id"]].values.tolist()
    assert real.clock == "real" and simulated.clock == "simulated"


def test_on_an_idle_server_every_caller_commits_and_the_store_check_passes(store: PostgresEventStore) -> None:
    result = run_load_real(jitter_retry, store=store, rate=RATE, duration=DURATION, actors=3, seed=1, verify=True)

    assert set(result.saves.outcome) == {"committed"}
    committed = sum(store.get_latest_version(actor) for actor in store.actor_ids())
    assert committed == len(result.saves)


def make_every_insert_take(store: PostgresEventStore, seconds: float) -> None:
    """Slow the server down: a trigger makes each insert into the store's events sleep *seconds*."""
    with psycopg.connect(store.conninfo, autocommit=True) as admin:
        admin.execute(
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$"
        )
        admin.execute("CREATE TRIGGER slow BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION slow_insert()")


@pytest.mark.parametrize(
    ("pattern", "outcome"),
    [(immediate_retry, "timeout"), (retry_on_failure, "gave_up")],  # the second retries the timeouts, in vain
)
def test_callers_give_up_at_their_client_side_timeout_while_the_server_is_slow(
    store: PostgresEventStore, pattern: Any, outcome: str
) -> None:
    make_every_insert_take(store, 5.0)  # far beyond the callers' timeout; the server's limit is later still

    with warnings.catch_warnings():  # the harness warns when every save failed: here that is the point
        warnings.simplefilter("ignore", RuntimeWarning)
        result = run_load_real(pattern, store=store, rate=20, duration=0.5, timeout=0.3, statement_timeout=30, actors=2)

    assert set(result.saves.outcome) == {outcome}
    if outcome == "timeout":
        assert set(result.saves.error) == {"StoreTimeoutError"}
    assert store.actor_ids() == []


class CountingClient:
    """A stateful pattern: binds once per run and counts its callers' saves."""

    name = "counting"

    def __init__(self) -> None:
        self.bound = 0
        self.calls = 0

    def bind(self, ctx: RunContext) -> Any:
        self.bound += 1

        def save(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
            self.calls += 1
            return immediate_retry(store, actor_id, event_type, data, clock=clock)

        return save


def test_a_stateful_pattern_is_bound_once_and_serves_every_caller(store: PostgresEventStore) -> None:
    client = CountingClient()

    result = run_load_real(client, store=store, rate=RATE, duration=0.5, actors=2)

    assert client.bound == 1
    assert client.calls == len(result.saves)
    assert result.saves.pattern.iloc[0] == "counting"


@pytest.mark.parametrize(
    ("settings", "error", "name"),
    [
        ({"rate": 1000, "duration": 10}, ValueError, "max_callers"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"max_callers": 0}, ValueError, "max_callers"),
        ({"duration": -1}, ValueError, "duration"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(
    store: PostgresEventStore, settings: dict, error: type[Exception], name: str
) -> None:
    arguments = {"rate": RATE, "duration": DURATION, **settings}
    with pytest.raises(error, match=name):
        run_load_real(immediate_retry, store=store, **arguments)
    assert store.actor_ids() == []


def test_only_a_postgresql_store_is_accepted() -> None:
    with pytest.raises(TypeError, match="PostgresEventStore"):
        run_load_real(immediate_retry, store=InMemoryEventStore(), rate=RATE, duration=DURATION)
