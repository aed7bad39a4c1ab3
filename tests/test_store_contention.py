"""Real concurrency: racing threads and processes on one actor."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from storehelpers import STORE_KINDS, fill, make_event, make_store, process_context, process_writer, save_until_done

from aether.errors import VersionConflictError
from aether.events import Event
from aether.store.base import EventStore
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

RACERS = 8
YIELD = 0.0  # pause between a writer's read and its save: just yield, so writers interleave


def race_for_one_version(store: EventStore, actor_id: str, version: int, racers: int) -> list[BaseException | None]:
    """Release *racers* threads at once, each saving its own event at *version*; return each outcome."""
    start = threading.Barrier(racers)

    def attempt(writer: int) -> BaseException | None:
        event = make_event(actor_id, version, data={"writer": writer})
        start.wait(timeout=10)
        try:
            store.save_event(event)
        except Exception as exc:  # noqa: BLE001 - the outcome is what is under test
            return exc
        return None

    with ThreadPoolExecutor(max_workers=racers) as pool:
        return list(pool.map(attempt, range(racers)))


def assert_gapless_and_complete(events: list[Event], writers: list[str], per_writer: int) -> None:
    """Versions 1..N in order, and every (writer, seq) saved exactly once."""
    total = len(writers) * per_writer
    assert [event.version for event in events] == list(range(1, total + 1))
    saved = Counter((event.data["writer"], event.data["seq"]) for event in events)
    assert saved == Counter({(writer, seq): 1 for writer in writers for seq in range(per_writer)})


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_exactly_one_of_many_racing_writers_wins(kind: str, tmp_path: Path) -> None:
    store = make_store(kind, tmp_path)
    fill(store, "hot", 3)

    outcomes = race_for_one_version(store, "hot", 4, RACERS)

    winners = [outcome for outcome in outcomes if outcome is None]
    losers = [outcome for outcome in outcomes if outcome is not None]
    assert len(winners) == 1
    assert len(losers) == RACERS - 1
    for loser in losers:
        assert isinstance(loser, VersionConflictError)
        assert (loser.actor_id, loser.attempted_version, loser.current_version) == ("hot", 4, 4)
    assert store.get_latest_version("hot") == 4


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_the_winners_event_is_the_one_stored(kind: str, tmp_path: Path) -> None:
    store = make_store(kind, tmp_path)

    outcomes = race_for_one_version(store, "hot", 1, RACERS)

    (stored,) = store.get_events("hot")
    assert outcomes[stored.data["writer"]] is None


def test_threads_retrying_on_conflict_lose_no_save_in_memory() -> None:
    store = InMemoryEventStore()
    writers = [f"thread-{n}" for n in range(8)]
    start = threading.Barrier(len(writers))

    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        counts = list(pool.map(lambda writer: save_until_done(store, "hot", writer, 200, start, YIELD), writers))

    assert sum(count["saved"] for count in counts) == 1600
    assert sum(count["conflicts"] for count in counts) > 0, "the writers never raced"
    assert_gapless_and_complete(store.get_events("hot"), writers, 200)


def test_threads_retrying_on_conflict_lose_no_save_in_sqlite(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    writers = [f"thread-{n}" for n in range(4)]
    start = threading.Barrier(len(writers))

    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        counts = list(pool.map(lambda writer: save_until_done(store, "hot", writer, 50, start, YIELD), writers))

    assert [count["lock_timeouts"] for count in counts] == [0] * len(writers)
    assert sum(count["conflicts"] for count in counts) > 0, "the writers never raced"
    assert_gapless_and_complete(store.get_events("hot"), writers, 50)


def test_processes_retrying_on_conflict_lose_no_save_in_sqlite(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    context = process_context()
    writers = [f"process-{n}" for n in range(4)]
    start = context.Barrier(len(writers))
    results = context.Queue()
    processes = [
        context.Process(target=process_writer, args=(store, "hot", writer, 200, start, results, YIELD))
        for writer in writers
    ]
    for process in processes:
        process.start()
    try:
        reports = dict(results.get(timeout=60) for _ in writers)
    finally:
        for process in processes:
            process.join(timeout=10)

    assert all(isinstance(report, dict) for report in reports.values()), reports
    assert [reports[writer]["lock_timeouts"] for writer in writers] == [0] * len(writers)
    assert [reports[writer]["saved"] for writer in writers] == [200] * len(writers)
    assert sum(reports[writer]["conflicts"] for writer in writers) > 0, "the writers never raced"
    assert_gapless_and_complete(store.get_events("hot"), writers, 200)
