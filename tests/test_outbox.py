"""Specification of DurableOutbox: an accepted write is on disk, and is delivered exactly once, even across a crash."""

from __future__ import annotations

import collections
import contextlib
import json
import math
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from patternhelpers import ACTOR, ScriptedStore, commit_rival

from aether.clock import RealClock, SimulatedClock
from aether.contracts import Deferred
from aether.errors import DuplicateEventIdError, StoreUnavailableError
from aether.events import Event
from aether.experiment import Constant, NetworkModel, NetworkStore
from aether.patterns.outbox import DurableOutbox, OutboxEntry, OutboxTicket
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore


def make_outbox(path: Path, store: object, clock: object = None, **settings: object) -> DurableOutbox:
    """An outbox on *path* with a simulated clock unless one is given (NORMAL sync: the logic, not the disk)."""
    settings.setdefault("synchronous", "NORMAL")
    return DurableOutbox(path, store, clock=clock or SimulatedClock(record_sleeps=True), **settings)  # type: ignore[arg-type]


def placed(store: ScriptedStore, actor: str = ACTOR) -> list[int]:
    return [e.data["n"] for e in store.inner.get_events(actor) if e.event_type == "Placed"]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


class InterruptedAfterSaving(ScriptedStore):
    """A store whose save number ``at`` lands and then raises KeyboardInterrupt: the worker dies unaware."""

    def __init__(self, at: int = 0) -> None:
        super().__init__()
        self.at = at

    def save_event(self, event: Event) -> None:
        super().save_event(event)
        if self.writes == self.at + 1:
            raise KeyboardInterrupt


# --------------------------------------------------------------------------- accepting


def test_enqueue_commits_the_write_to_the_file_before_it_returns(path: Path) -> None:
    store = ScriptedStore()
    outbox = make_outbox(path, store)
    ticket = outbox.enqueue(ACTOR, "Placed", {"n": 1})
    with sqlite3.connect(path) as other:  # another connection, as a restarted process would see it
        rows = other.execute("SELECT event_id, actor_id, event_type, data, state FROM outbox").fetchall()
    assert rows == [(ticket.event_id, ACTOR, "Placed", '{"n":1}', "pending")]
    assert (ticket.outcome, ticket.seq, store.writes, outbox.pending()) == ("pending", 1, 0, 1)
    outbox.close()


def test_an_outbox_ticket_is_a_deferred_result(path: Path) -> None:
    outbox = make_outbox(path, ScriptedStore())
    ticket = outbox.enqueue(ACTOR, "Placed")
    assert isinstance(ticket, OutboxTicket) and isinstance(ticket, Deferred)
    outbox.close()


def test_enqueue_validates_the_write_and_accepts_nothing_bad(path: Path) -> None:
    outbox = make_outbox(path, ScriptedStore())
    with pytest.raises(ValueError, match="actor_id"):
        outbox.enqueue("", "Placed")
    with pytest.raises(TypeError, match="event_type"):
        outbox.enqueue(ACTOR, 7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON"):
        outbox.enqueue(ACTOR, "Placed", {"x": math.nan})
    assert outbox.pending() == 0
    outbox.close()


def test_data_changed_after_enqueue_does_not_change_the_write(path: Path) -> None:
    store = ScriptedStore()
    outbox = make_outbox(path, store).start()
    data = {"n": 1, "items": [1, 2]}
    outbox.enqueue(ACTOR, "Placed", data)
    data["n"], data["items"] = 2, []
    outbox.close()
    assert store.inner.get_events(ACTOR)[0].data == {"n": 1, "items": [1, 2]}


# --------------------------------------------------------------------------- delivering


def test_the_worker_delivers_in_acceptance_order_with_the_accepted_ids(path: Path) -> None:
    store = ScriptedStore()
    outbox = make_outbox(path, store).start()
    tickets = [outbox.enqueue(f"order-{n % 2}", "Placed", {"n": n}) for n in range(6)]
    outbox.close()
    assert placed(store, "order-0") == [0, 2, 4] and placed(store, "order-1") == [1, 3, 5]
    assert all(t.outcome == "committed" and t.attempts == 1 for t in tickets)
    stored = {e.id: e for actor in ("order-0", "order-1") for e in store.inner.get_events(actor)}
    assert [stored[t.event_id] for t in tickets] == [t.event for t in tickets]
    assert outbox.delivered == 6


def test_delivered_rows_record_the_version_they_are_stored_at(path: Path) -> None:
    store = ScriptedStore()
    outbox = make_outbox(path, store).start()
    first, second = outbox.enqueue(ACTOR, "Placed", {"n": 0}), outbox.enqueue(ACTOR, "Placed", {"n": 1})
    outbox.stop()
    entries = outbox.entries()
    assert [(e.seq, e.event_id, e.state, e.version, e.attempts, e.error) for e in entries] == [
        (first.seq, first.event_id, "delivered", 1, 1, None),
        (second.seq, second.event_id, "delivered", 2, 1, None),
    ]
    assert isinstance(entries[0], OutboxEntry) and entries[0].data == {"n": 0}
    assert (outbox.pending(), outbox.entries("pending")) == (0, [])
    outbox.close()


def test_a_conflict_is_retried_at_the_next_version_with_the_same_event_id(path: Path) -> None:
    store = ScriptedStore(["rival"])
    outbox = make_outbox(path, store).start()
    ticket = outbox.enqueue(ACTOR, "Placed", {"n": 0})
    outbox.close()
    assert ticket.event is not None and (ticket.event.version, ticket.attempts) == (2, 2)
    assert ticket.event.id == ticket.event_id == store.saved[0].id == store.saved[1].id


def test_a_failed_save_is_retried_after_capped_exponential_delays(path: Path) -> None:
    store, sim = ScriptedStore(["down"] * 5), SimulatedClock(record_sleeps=True)
    outbox = make_outbox(path, store, sim, base_delay=0.1, max_delay=0.3).start()
    ticket = outbox.enqueue(ACTOR, "Placed")
    outbox.close()
    assert sim.sleeps == [0.1, 0.2, 0.3, 0.3, 0.3]
    assert (ticket.outcome, ticket.attempts, ticket.delay) == ("committed", 6, pytest.approx(1.2))


def test_a_save_whose_reply_was_lost_is_not_stored_twice(path: Path) -> None:
    store = ScriptedStore(["lost-reply", "down", "lost-reply"])
    outbox = make_outbox(path, store).start()
    tickets = [outbox.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    outbox.close()
    assert placed(store) == [0, 1, 2]
    assert [t.event.version for t in tickets if t.event is not None] == [1, 2, 3]


def test_a_write_that_keeps_failing_is_a_dead_letter_with_its_cause_and_the_worker_carries_on(path: Path) -> None:
    store = ScriptedStore(["down"] * 3)
    outbox = make_outbox(path, store, max_attempts=3).start()
    doomed = outbox.enqueue(ACTOR, "Placed", {"n": 0})
    after = outbox.enqueue(ACTOR, "Placed", {"n": 1})
    outbox.stop()
    assert (doomed.outcome, doomed.attempts, doomed.event) == ("dead_letter", 3, None)
    assert isinstance(doomed.error, StoreUnavailableError)
    [dead] = outbox.dead_letters
    assert (dead.seq, dead.state, dead.attempts, dead.error) == (
        doomed.seq, "dead_letter", 3, "StoreUnavailableError: scripted outage")
    assert after.outcome == "committed" and placed(store) == [1]
    outbox.close()


def test_an_unexpected_error_dead_letters_the_write_at_once_and_is_recorded(path: Path) -> None:
    bug = TypeError("a bug in the store")
    outbox = make_outbox(path, ScriptedStore([bug])).start()
    broken, fine = outbox.enqueue(ACTOR, "Placed", {"n": 0}), outbox.enqueue(ACTOR, "Placed", {"n": 1})
    outbox.close()
    assert (broken.outcome, broken.error, broken.attempts) == ("dead_letter", bug, 1)
    assert [(e.write.seq if e.write else None, e.error) for e in outbox.errors] == [(broken.seq, bug)]
    assert fine.outcome == "committed"


def test_an_id_already_stored_for_another_actor_is_a_dead_letter_not_a_delivery(path: Path) -> None:
    store = ScriptedStore()
    outbox = make_outbox(path, store)
    ticket = outbox.enqueue(ACTOR, "Placed")
    store.inner.save_event(Event(actor_id="someone-else", event_type="Clash", version=1, id=ticket.event_id))
    outbox.start().close()
    assert ticket.outcome == "dead_letter" and isinstance(ticket.error, DuplicateEventIdError)
    assert store.inner.get_events(ACTOR) == []


# --------------------------------------------------------------------------- stopping and restarting


def test_a_stopped_outbox_refuses_new_writes_and_a_closed_one_refuses_everything(path: Path) -> None:
    outbox = make_outbox(path, ScriptedStore()).start()
    outbox.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        outbox.enqueue(ACTOR, "Placed")
    outbox.close()
    outbox.close()  # closing twice is harmless
    for call in (outbox.start, outbox.pending, lambda: outbox.enqueue(ACTOR, "Placed")):
        with pytest.raises(RuntimeError, match="closed"):
            call()


def test_stop_without_drain_leaves_the_rest_in_the_file_for_a_later_start(path: Path) -> None:
    store, sim = ScriptedStore(["down"]), SimulatedClock()
    outbox = make_outbox(path, store, sim, base_delay=1.0).start()
    tickets = [outbox.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    sim.sleep(0.5)  # the worker took the first write and backs off after its failure
    assert outbox.stop(drain=False) is True
    assert [t.outcome for t in tickets] == ["committed", "pending", "pending"] and outbox.pending() == 2
    outbox.start().close()
    assert [t.outcome for t in tickets] == ["committed"] * 3 and placed(store) == [0, 1, 2]


def test_closing_an_outbox_stopped_without_drain_keeps_its_rows_quietly(path: Path) -> None:
    store, sim = ScriptedStore(["down"]), SimulatedClock()
    outbox = make_outbox(path, store, sim, base_delay=1.0).start()
    accepted = [outbox.enqueue(ACTOR, "Placed", {"n": n}).event_id for n in range(3)]
    sim.sleep(0.5)
    outbox.stop(drain=False)
    outbox.close()  # no error: nothing is lost
    later = make_outbox(path, store)
    later.start().close()
    assert [e.id for e in store.inner.get_events(ACTOR)] == accepted


def test_stop_with_a_timeout_returns_false_while_the_worker_is_still_retrying(path: Path) -> None:
    store, sim = ScriptedStore(["down"] * 3), SimulatedClock()
    outbox = make_outbox(path, store, sim, base_delay=1.0, max_delay=1.0).start()
    ticket = outbox.enqueue(ACTOR, "Placed")
    assert outbox.stop(timeout=1.5) is False
    assert (sim.now(), ticket.outcome) == (1.5, "pending")
    assert outbox.stop() is True
    assert (sim.now(), ticket.outcome) == (3.0, "committed")
    outbox.close()


def test_writes_accepted_by_an_earlier_outbox_are_delivered_by_the_next_one_on_the_file(path: Path) -> None:
    store = ScriptedStore()
    first = make_outbox(path, store)  # accepts, is never started, and goes away
    accepted = [first.enqueue(ACTOR, "Placed", {"n": n}).event_id for n in range(3)]
    first.close()  # never started: closes quietly, the rows wait in the file
    second = make_outbox(path, store)
    assert second.pending() == 3
    second.start().stop()
    assert [e.id for e in store.inner.get_events(ACTOR)] == accepted
    assert (second.delivered, second.pending()) == (3, 0)
    second.close()


@pytest.mark.parametrize("clock_kind", ["simulated", "real"])
def test_a_worker_killed_by_a_base_exception_leaves_its_row_pending_for_the_restart(path: Path,
                                                                                   clock_kind: str) -> None:
    store = ScriptedStore([KeyboardInterrupt()])
    clock = SimulatedClock() if clock_kind == "simulated" else RealClock()
    outbox = make_outbox(path, store, clock)
    tickets = [outbox.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    outbox.start()
    with contextlib.suppress(KeyboardInterrupt):  # a simulated task's error comes out of the run
        assert outbox.stop(timeout=5.0) is True
    assert [t.outcome for t in tickets] == ["pending"] * 3 and outbox.pending() == 3
    assert [(e.write.seq if e.write else None, type(e.error)) for e in outbox.errors] == [
        (tickets[0].seq, KeyboardInterrupt)]
    outbox.start().close()
    assert [t.outcome for t in tickets] == ["committed"] * 3
    assert placed(store) == [0, 1, 2]


def test_close_after_the_worker_died_says_the_rows_are_kept_for_the_next_start(path: Path) -> None:
    outbox = make_outbox(path, ScriptedStore([KeyboardInterrupt()]), RealClock())
    outbox.enqueue(ACTOR, "Placed")
    outbox.enqueue(ACTOR, "Placed")
    outbox.start()
    with pytest.raises(RuntimeError, match="2 write.*not delivered.*next start"):
        outbox.close()
    reopened = make_outbox(path, ScriptedStore())
    assert reopened.pending() == 2
    reopened.close()


@pytest.mark.parametrize("rival_in_between", [False, True])
def test_a_write_stored_just_before_the_worker_died_is_marked_delivered_not_stored_again(
        path: Path, rival_in_between: bool) -> None:
    store = InterruptedAfterSaving(at=1)  # the second save lands, then the worker dies before marking it
    outbox = make_outbox(path, store)
    tickets = [outbox.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    with contextlib.suppress(KeyboardInterrupt):
        outbox.start().stop()
    assert [e.state for e in outbox.entries()] == ["delivered", "pending", "pending"]
    assert placed(store) == [0, 1]  # the store has the second write; the outbox does not know
    if rival_in_between:
        commit_rival(store.inner, ACTOR)  # another writer appends before the restart
    with pytest.raises(RuntimeError, match="2 write"):
        outbox.close()
    restarted = make_outbox(path, store)
    restarted.start().stop()
    assert placed(store) == [0, 1, 2]  # each write once
    versions = [e.version for e in store.inner.get_events(ACTOR)]
    assert versions == list(range(1, len(versions) + 1))
    second = restarted.entries()[1]
    assert (second.event_id, second.state, second.version) == (tickets[1].event_id, "delivered", 2)
    restarted.close()


def test_an_outbox_is_a_context_manager_that_starts_and_drains(path: Path) -> None:
    store = ScriptedStore(["down"])
    with make_outbox(path, store) as outbox:
        ticket = outbox.enqueue(ACTOR, "Placed")
    assert (ticket.outcome, ticket.attempts, store.inner.get_latest_version(ACTOR)) == ("committed", 2, 1)


def test_a_ticket_can_be_waited_on_and_refuses_a_bad_timeout(path: Path) -> None:
    store, sim = ScriptedStore(["down"]), SimulatedClock()
    outbox = make_outbox(path, store, sim, base_delay=1.0).start()
    ticket = outbox.enqueue(ACTOR, "Placed")
    for timeout, error in (("1", TypeError), (-1, ValueError), (math.nan, ValueError)):
        with pytest.raises(error, match="timeout"):
            ticket.wait(timeout)  # type: ignore[arg-type]
    assert ticket.wait(timeout=0.5) is False
    assert ticket.wait() is True and (sim.now(), ticket.outcome) == (1.0, "committed")
    outbox.close()


def test_on_a_simulated_clock_delivery_takes_the_store_calls_virtual_time(path: Path) -> None:
    clock, inner = SimulatedClock(), InMemoryEventStore()
    remote = NetworkStore(inner, NetworkModel(hop=Constant(0.010)), clock, random.Random(0))
    outbox = make_outbox(path, remote, clock).start()
    tickets = [outbox.enqueue("order-7", "ItemAdded", {"sku": sku}) for sku in ("A1", "B2", "C3")]
    outbox.close()  # a read and a save per write, each a 10 ms hop there and back: 40 ms a write
    assert [round(t.delay, 6) for t in tickets if t.delay is not None] == [0.04, 0.08, 0.12]
    assert [e.data["sku"] for e in inner.get_events("order-7")] == ["A1", "B2", "C3"]


# --------------------------------------------------------------------------- real threads, the real store


def test_writers_on_real_threads_each_get_their_write_delivered_once(tmp_path: Path) -> None:
    store = ScriptedStore(["down", "ok", "lost-reply", "rival"] * 5)
    outbox = make_outbox(tmp_path / "outbox.db", store, RealClock(), base_delay=0.001, max_delay=0.004).start()
    tickets: list[OutboxTicket] = []

    def writer(w: int) -> None:
        for s in range(10):
            tickets.append(outbox.enqueue(ACTOR, "Placed", {"n": w * 10 + s}))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outbox.close()
    assert all(t.outcome == "committed" for t in tickets)
    assert sorted(placed(store)) == list(range(60))
    assert [t.event_id for t in sorted(tickets, key=lambda t: t.seq)] == [
        e.id for e in store.inner.get_events(ACTOR) if e.event_type == "Placed"]  # acceptance order


def test_the_default_full_sync_outbox_delivers_to_the_sqlite_store(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    with DurableOutbox(tmp_path / "outbox.db", store) as outbox:
        assert outbox.synchronous == "FULL"
        tickets = [outbox.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    assert [e.id for e in store.get_events(ACTOR)] == [t.event_id for t in tickets]
    store.close()


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(("settings", "error", "message"), [
    ({"max_attempts": 0}, ValueError, "max_attempts"),
    ({"max_attempts": "3"}, TypeError, "max_attempts"),
    ({"base_delay": -1}, ValueError, "base_delay"),
    ({"base_delay": math.nan}, ValueError, "base_delay"),
    ({"base_delay": 2.0, "max_delay": 1.0}, ValueError, "max_delay"),
    ({"synchronous": "OFF"}, ValueError, "synchronous.*'OFF'"),
    ({"synchronous": 1}, TypeError, "synchronous"),
    ({"name": ""}, ValueError, "name"),
    ({"clock": object()}, TypeError, "clock"),
    ({"store": object()}, TypeError, "store"),
])
def test_bad_settings_are_refused_naming_the_setting_and_the_value(path: Path, settings: dict[str, object],
                                                                  error: type[Exception], message: str) -> None:
    arguments: dict[str, object] = {"store": ScriptedStore(), "clock": SimulatedClock(), **settings}
    with pytest.raises(error, match=message):
        DurableOutbox(path, **arguments)  # type: ignore[arg-type]
    assert not path.exists()  # refused before the file was made


@pytest.mark.parametrize(("bad", "error"), [
    (7, TypeError), ("", ValueError), (":memory:", ValueError), ("missing/outbox.db", FileNotFoundError),
])
def test_a_path_that_cannot_hold_an_outbox_is_refused(tmp_path: Path, bad: object, error: type[Exception]) -> None:
    if isinstance(bad, str) and "/" in bad:
        bad = str(tmp_path / bad)
    with pytest.raises(error, match="outbox|path"):
        DurableOutbox(bad, ScriptedStore(), clock=SimulatedClock())  # type: ignore[arg-type]


def test_a_file_that_is_not_an_outbox_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an SQLite database, it only has a .db name" * 100)
    with pytest.raises(ValueError, match="cannot use"):
        DurableOutbox(junk, ScriptedStore(), clock=SimulatedClock())
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(ValueError, match="other columns"):
        DurableOutbox(other, ScriptedStore(), clock=SimulatedClock())


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"drain": "no"}, TypeError, "drain"), ({"timeout": -1}, ValueError, "timeout"),
])
def test_stop_refuses_bad_arguments_before_stopping(path: Path, arguments: dict[str, object],
                                                    error: type[Exception], message: str) -> None:
    outbox = make_outbox(path, ScriptedStore()).start()
    with pytest.raises(error, match=message):
        outbox.stop(**arguments)  # type: ignore[arg-type]
    outbox.enqueue(ACTOR, "Placed")  # still accepting
    outbox.close()


def test_entries_refuses_an_unknown_state(path: Path) -> None:
    outbox = make_outbox(path, ScriptedStore())
    with pytest.raises(ValueError, match="state.*'done'"):
        outbox.entries("done")
    outbox.close()


# --------------------------------------------------------------------------- a crash: SIGKILL, then a restart

CHILD = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from aether import RealClock, SQLiteEventStore
    from aether.patterns.outbox import DurableOutbox

    mode, outbox_path, events_path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    class SlowStore:
        # The real SQLite store, a few milliseconds slower per save (before and after its commit).
        def __init__(self, inner, kill_after=None):
            self.inner, self.kill_after, self.saves = inner, kill_after, 0

        def get_latest_version(self, actor_id):
            return self.inner.get_latest_version(actor_id)

        def get_events(self, actor_id, from_version=1):
            return self.inner.get_events(actor_id, from_version)

        def save_event(self, event):
            time.sleep(0.002)
            self.inner.save_event(event)
            self.saves += 1
            if self.saves == self.kill_after:  # stored, and the outbox has not marked it yet
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.001)

    store = SQLiteEventStore(events_path)
    if mode == "restart":
        outbox = DurableOutbox(outbox_path, store, clock=RealClock())
        pending = outbox.pending()
        with outbox:
            pass  # start, deliver everything pending, close
        print(json.dumps({"pending_at_restart": pending, "delivered": outbox.delivered}), flush=True)
        sys.exit(0)

    kill_after = int(sys.argv[5]) if mode == "kill-after-commit" else None
    outbox = DurableOutbox(outbox_path, SlowStore(store, kill_after), clock=RealClock())
    accepted = [outbox.enqueue(f"order-{n % 3}", "Placed", {"n": n}).event_id for n in range(count)]
    with open(outbox_path + ".accepted.tmp", "w") as out:
        json.dump(accepted, out)
    os.replace(outbox_path + ".accepted.tmp", outbox_path + ".accepted")  # the parent now knows what was accepted
    outbox.start()
    threading.Event().wait()  # deliver until killed
""")

ACTORS = ("order-0", "order-1", "order-2")


class Crash:
    """The files of one crash scenario and the child processes that act on them."""

    def __init__(self, tmp_path: Path) -> None:
        self.script = tmp_path / "outbox_child.py"
        self.script.write_text(CHILD)
        self.outbox = tmp_path / "outbox.db"
        self.events = tmp_path / "events.db"
        self.accepted_file = Path(str(self.outbox) + ".accepted")

    def spawn(self, mode: str, count: int, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(self.script), mode, str(self.outbox), str(self.events),
                                 str(count), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def accepted(self, child: subprocess.Popen[str], deadline: float) -> list[str]:
        """The event ids the child accepted, once it has accepted them all (it is still running)."""
        while not self.accepted_file.exists():
            assert child.poll() is None, child.communicate(timeout=5)
            assert time.monotonic() < deadline, "the child took too long to accept its writes"
            time.sleep(0.005)
        return json.loads(self.accepted_file.read_text())

    def restart(self) -> dict[str, int]:
        done = subprocess.run([sys.executable, str(self.script), "restart", str(self.outbox), str(self.events), "0"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stored(self) -> dict[str, list[Event]]:
        with SQLiteEventStore(self.events) as store:
            return {actor: store.get_events(actor) for actor in ACTORS}

    def marked_delivered(self) -> int:
        with sqlite3.connect(self.outbox) as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'").fetchone()[0])


def assert_each_accepted_write_stored_once_in_order(stored: dict[str, list[Event]], accepted: list[str]) -> None:
    ids = collections.Counter(e.id for events in stored.values() for e in events)
    assert set(ids) == set(accepted) and set(ids.values()) == {1}  # every accepted write, none twice
    for actor, events in stored.items():
        assert [e.version for e in events] == list(range(1, len(events) + 1))  # gapless
        assert [e.data["n"] for e in events] == sorted(e.data["n"] for e in events)  # in acceptance order
        assert all(e.actor_id == actor for e in events)


needs_sigkill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


@needs_sigkill
def test_writes_accepted_before_a_sigkill_are_delivered_after_a_restart_each_exactly_once(tmp_path: Path) -> None:
    crash, count = Crash(tmp_path), 120
    deadline = time.monotonic() + 30
    child = crash.spawn("deliver", count)
    try:
        accepted = crash.accepted(child, deadline)
        with SQLiteEventStore(crash.events) as store:
            while sum(store.get_latest_version(a) for a in ACTORS) < count // 3:  # a third delivered: kill it
                assert child.poll() is None and time.monotonic() < deadline, "the child stopped delivering"
                time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    before = sum(len(events) for events in crash.stored().values())
    marked = crash.marked_delivered()
    restart = crash.restart()
    stored = crash.stored()
    found = sum(len(events) for events in stored.values())
    print(f"accepted {len(accepted)}, delivered before the kill {before} (marked in the outbox {marked}), "
          f"pending at restart {restart['pending_at_restart']}, delivered after the restart {found - before} "
          f"(rows settled by the restart {restart['delivered']}), found in the store {found}")
    assert len(accepted) == count and 0 < before < count  # killed mid-delivery
    assert marked <= before <= marked + 1  # one worker: at most the row in hand is stored and not marked
    assert restart["pending_at_restart"] == restart["delivered"] == count - marked
    assert found == count
    assert_each_accepted_write_stored_once_in_order(stored, accepted)


@needs_sigkill
def test_a_write_the_store_committed_just_before_a_sigkill_is_not_stored_again_after_a_restart(
        tmp_path: Path) -> None:
    crash, count = Crash(tmp_path), 12
    child = crash.spawn("kill-after-commit", count, "5")  # dies right after the store commits its 5th save
    try:
        accepted = crash.accepted(child, time.monotonic() + 30)
        child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    before, marked = sum(len(events) for events in crash.stored().values()), crash.marked_delivered()
    restart = crash.restart()
    stored = crash.stored()
    print(f"accepted {len(accepted)}, in the store at the kill {before}, marked delivered {marked}, "
          f"settled by the restart {restart['delivered']}, found in the store "
          f"{sum(len(events) for events in stored.values())}")
    assert (before, marked, restart["delivered"]) == (5, 4, count - 4)
    assert_each_accepted_write_stored_once_in_order(stored, accepted)
    fifth = stored["order-1"][1]  # the 5th write (n=4) is order-1's second event
    assert (fifth.id, fifth.data["n"]) == (accepted[4], 4)
