"""The outbox delivers a command: decisions registered by name, refusals, one key per write, across a crash.

A function cannot be written into the outbox file, so an outbox takes its
decisions by name: ``DurableOutbox(..., decisions={"reserve": reserve})`` and
``enqueue(actor, type, request, decide="reserve")``. The worker calls the
decision on a fresh read before every delivery attempt. The event id is the
write's key and is kept in the row, so a write the store committed before the
process died (and before the row was marked) is found by its key, not stored
or decided again.
"""

from __future__ import annotations

import collections
import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from patternhelpers import ACTOR, ScriptedStore, commit_rival

from aether.clock import RealClock, SimulatedClock
from aether.errors import CommandRefusedError
from aether.events import Event
from aether.patterns.outbox import DurableOutbox, OutboxTicket
from aether.store.sqlite import SQLiteEventStore

STOCK = 5


def reserve(events: Sequence[Event], request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Reserve the requested units while the stock lasts, else refuse."""
    taken = sum(e.data.get("units", 0) for e in events)
    return {**request, "left": STOCK - taken - request["units"]} if taken + request["units"] <= STOCK else None


class Recording:
    """A decision that records how many events it saw each time it was called, and always appends."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, events: Sequence[Event], request: Mapping[str, Any]) -> Mapping[str, Any]:
        self.seen.append(len(events))
        return {**request, "seen": len(events)}


def make_outbox(path: Path, store: object, clock: object = None, **settings: object) -> DurableOutbox:
    settings.setdefault("synchronous", "NORMAL")
    return DurableOutbox(path, store, clock=clock or SimulatedClock(record_sleeps=True), **settings)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


# --------------------------------------------------------------------------- deciding when delivering


def test_a_named_decision_is_made_at_delivery_on_the_request_and_a_fresh_read(path: Path) -> None:
    store, decide = ScriptedStore(), Recording()
    outbox = make_outbox(path, store, decisions={"record": decide})
    ticket = outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide="record")
    commit_rival(store.inner, ACTOR)  # the state changes while the write waits in the file
    outbox.start().close()
    assert decide.seen == [1] and ticket.outcome == "committed"
    assert ticket.event is not None and ticket.event.data == {"units": 1, "seen": 1}
    assert store.inner.get_events(ACTOR)[1] == ticket.event and ticket.event.id == ticket.event_id


def test_the_row_keeps_the_decisions_name_and_the_request(path: Path) -> None:
    outbox = make_outbox(path, ScriptedStore(), decisions={"reserve": reserve})
    outbox.enqueue(ACTOR, "Reserved", {"units": 2}, decide="reserve")
    entry, = outbox.entries()
    assert (entry.decision, entry.data, entry.state) == ("reserve", {"units": 2}, "pending")
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT decision, data FROM outbox").fetchall() == [("reserve", '{"units":2}')]
    outbox.close()


def test_the_decision_is_made_again_on_a_fresh_read_after_a_conflict(path: Path) -> None:
    store, decide = ScriptedStore(["rival", "rival"]), Recording()
    outbox = make_outbox(path, store, decisions={"record": decide}).start()
    ticket = outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide="record")
    outbox.close()
    assert decide.seen == [0, 1, 2] and ticket.attempts == 3
    assert ticket.event is not None and (ticket.event.version, ticket.event.data["seen"]) == (3, 2)


def test_a_refusal_marks_the_row_refused_without_retrying_or_dead_lettering(path: Path) -> None:
    store = ScriptedStore()
    outbox = make_outbox(path, store, decisions={"reserve": reserve}).start()
    too_many = outbox.enqueue(ACTOR, "Reserved", {"units": STOCK + 1}, decide="reserve")
    fits = outbox.enqueue(ACTOR, "Reserved", {"units": STOCK}, decide="reserve")
    outbox.close()
    assert (too_many.outcome, too_many.attempts, too_many.event) == ("refused", 1, None)
    assert isinstance(too_many.error, CommandRefusedError) and fits.outcome == "committed"
    reopened = make_outbox(path, store)
    states = [(e.state, e.error is not None) for e in reopened.entries()]
    assert states == [("refused", True), ("delivered", False)] and reopened.dead_letters == []
    assert (outbox.refused, outbox.delivered, store.writes) == (1, 1, 1)
    reopened.close()


def test_a_decision_that_landed_before_its_reply_was_lost_is_delivered_and_decided_once(path: Path) -> None:
    store, decide = ScriptedStore(["lost-reply"]), Recording()
    outbox = make_outbox(path, store, decisions={"record": decide}).start()
    ticket = outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide="record")
    outbox.close()
    assert (ticket.outcome, ticket.attempts, decide.seen, store.writes) == ("committed", 2, [0], 1)
    assert store.inner.get_events(ACTOR) == [ticket.event]


def test_a_decision_that_raises_or_returns_no_mapping_dead_letters_the_row_and_is_recorded(path: Path) -> None:
    def broken(events: Sequence[Event], request: Mapping[str, Any]) -> Mapping[str, Any]:
        raise ZeroDivisionError("a bug in the decision")

    outbox = make_outbox(path, ScriptedStore(), decisions={"broken": broken, "odd": lambda events, request: 42})
    raised = outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide="broken")
    odd = outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide="odd")
    fine = outbox.enqueue(ACTOR, "Reserved", {"units": 1})
    outbox.start().stop()
    assert (raised.outcome, odd.outcome, fine.outcome) == ("dead_letter", "dead_letter", "committed")
    assert isinstance(raised.error, ZeroDivisionError) and "must return a mapping or None" in str(odd.error)
    assert [e.state for e in outbox.entries()] == ["dead_letter", "dead_letter", "delivered"]
    assert [type(e.error) for e in outbox.errors] == [ZeroDivisionError, TypeError]
    outbox.close()


# --------------------------------------------------------------------------- what an outbox accepts


def test_a_function_as_data_is_refused_with_how_to_register_it(path: Path) -> None:
    outbox = make_outbox(path, ScriptedStore())
    with pytest.raises(TypeError, match=r"cannot keep a function.*decisions=\{'name': function\}"):
        outbox.enqueue(ACTOR, "Reserved", lambda events: {"units": 1})  # type: ignore[arg-type]
    assert outbox.pending() == 0
    outbox.close()


@pytest.mark.parametrize(("decide", "error", "message"), [
    ("release", ValueError, r"decide must name a decision registered.*\['reserve'\].*'release'"),
    (7, TypeError, "decide must be a str"),
])
def test_enqueue_refuses_a_decision_that_is_not_registered(path: Path, decide: object, error: type[Exception],
                                                           message: str) -> None:
    outbox = make_outbox(path, ScriptedStore(), decisions={"reserve": reserve})
    with pytest.raises(error, match=message):
        outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide=decide)  # type: ignore[arg-type]
    assert outbox.pending() == 0
    outbox.close()


@pytest.mark.parametrize(("decisions", "error", "message"), [
    ([reserve], TypeError, "decisions must be a mapping"),
    ({"": reserve}, ValueError, "decisions key"),
    ({"reserve": "reserve"}, TypeError, r"decisions\['reserve'\] must be a callable"),
])
def test_bad_decisions_are_refused_naming_the_setting(path: Path, decisions: object, error: type[Exception],
                                                      message: str) -> None:
    with pytest.raises(error, match=message):
        make_outbox(path, ScriptedStore(), decisions=decisions)


def test_a_key_given_at_enqueue_is_the_stored_events_id_and_names_one_write(path: Path) -> None:
    store = ScriptedStore()
    outbox = make_outbox(path, store, decisions={"reserve": reserve})
    ticket = outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide="reserve", key="order-7-reserve")
    with pytest.raises(ValueError, match="key 'order-7-reserve' was already accepted"):
        outbox.enqueue(ACTOR, "Reserved", {"units": 1}, key="order-7-reserve")
    outbox.start().close()
    assert ticket.event_id == "order-7-reserve" and [e.id for e in store.inner.get_events(ACTOR)] == [ticket.event_id]
    assert outbox.delivered == 1


def test_start_is_refused_while_a_pending_row_names_a_decision_not_registered(path: Path) -> None:
    store = ScriptedStore()
    first = make_outbox(path, store, decisions={"reserve": reserve})
    first.enqueue(ACTOR, "Reserved", {"units": 1}, decide="reserve")
    first.close()
    forgetful = make_outbox(path, store)
    with pytest.raises(ValueError, match=r"name the decision\(s\) \['reserve'\], not registered"):
        forgetful.start()
    assert (forgetful.running, forgetful.pending(), store.writes) == (False, 1, 0)
    forgetful.close()
    knowing = make_outbox(path, store, decisions={"reserve": reserve})
    knowing.start().stop()
    assert [e.state for e in knowing.entries()] == ["delivered"] and store.writes == 1
    knowing.close()


# --------------------------------------------------------------------------- the stock invariant


def test_writers_on_real_threads_reserve_exactly_the_stock_through_the_outbox(tmp_path: Path) -> None:
    writers, store = 12, ScriptedStore()
    outbox = DurableOutbox(tmp_path / "outbox.db", store, clock=RealClock(), synchronous="NORMAL",
                           base_delay=0.001, decisions={"reserve": reserve}).start()
    tickets: list[OutboxTicket] = []
    go = threading.Barrier(writers)

    def writer(w: int) -> None:
        go.wait()
        tickets.append(outbox.enqueue(ACTOR, "Reserved", {"units": 1, "writer": w}, decide="reserve"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    outbox.close(timeout=30)
    outcomes = collections.Counter(t.outcome for t in tickets)
    stored = store.inner.get_events(ACTOR)
    print(f"outbox, threads: {writers} writers, stock {STOCK}: stored {len(stored)}, refused {outcomes['refused']}")
    assert (len(stored), outcomes["committed"], outcomes["refused"]) == (STOCK, STOCK, writers - STOCK)
    assert [e.data["left"] for e in stored] == list(range(STOCK - 1, -1, -1))


@pytest.mark.parametrize("decide", [True, False], ids=["decision", "blind"])
def test_on_a_simulated_clock_the_decision_holds_the_stock_and_the_blind_mapping_oversells(
        path: Path, decide: bool) -> None:
    writers, store = 12, ScriptedStore(["rival", "down", "lost-reply"])  # a conflict, an outage, a lost reply
    outbox = make_outbox(path, store, decisions={"reserve": reserve}).start()
    tickets = [outbox.enqueue(ACTOR, "Reserved", {"units": 1, "writer": w},
                              decide="reserve" if decide else None) for w in range(writers)]
    outbox.close()
    stored = [e for e in store.inner.get_events(ACTOR) if e.event_type == "Reserved"]
    outcomes = collections.Counter(t.outcome for t in tickets)
    print(f"outbox {'decision' if decide else 'blind'}, simulated: {writers} writers, stock {STOCK}: "
          f"stored {len(stored)}, refused {outcomes['refused']}")
    assert len({e.id for e in stored}) == len(stored)  # the lost reply's write once
    if decide:
        assert (len(stored), outcomes["committed"], outcomes["refused"]) == (STOCK, STOCK, writers - STOCK)
    else:
        assert (len(stored), outcomes["committed"], outcomes["refused"]) == (writers, writers, 0)


# --------------------------------------------------------------------------- the key across a crash


class InterruptedAfterSaving(ScriptedStore):
    """A store whose save number ``at`` lands and then raises KeyboardInterrupt: the worker dies unaware."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def save_event(self, event: Event) -> None:
        super().save_event(event)
        if self.writes == self.at + 1:
            raise KeyboardInterrupt


def test_a_decided_write_stored_just_before_the_worker_died_is_found_by_its_key_not_decided_again(
        path: Path) -> None:
    store, decide = InterruptedAfterSaving(at=1), Recording()
    outbox = make_outbox(path, store, decisions={"record": decide})
    tickets = [outbox.enqueue(ACTOR, "Reserved", {"n": n}, decide="record") for n in range(3)]
    with contextlib.suppress(KeyboardInterrupt):
        outbox.start().stop()
    assert [e.state for e in outbox.entries()] == ["delivered", "pending", "pending"]
    commit_rival(store.inner, ACTOR)  # another writer appends before the restart
    with pytest.raises(RuntimeError, match="2 write"):
        outbox.close()
    restarted = make_outbox(path, store, decisions={"record": decide})
    restarted.start().stop()
    stored = [e for e in store.inner.get_events(ACTOR) if e.event_type == "Reserved"]
    assert [e.data["n"] for e in stored] == [0, 1, 2] and [e.id for e in stored] == [t.event_id for t in tickets]
    assert decide.seen == [0, 1, 3]  # the second write was decided once, before the crash
    second = restarted.entries()[1]
    assert (second.state, second.version, second.attempts) == ("delivered", 2, 1)
    restarted.close()


CHILD = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from aether import RealClock, SQLiteEventStore
    from aether.patterns.outbox import DurableOutbox

    mode, outbox_path, events_path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    decided = []

    def reserve(events, request):
        # One unit per write while 8 last; records each decision (made in this process).
        decided.append(request["n"])
        return {**request, "units": 1} if len(events) < 8 else None

    class KillAfterCommit:
        # The real SQLite store; the process dies right after the store commits its kill_after-th save.
        def __init__(self, inner, kill_after):
            self.inner, self.kill_after, self.saves = inner, kill_after, 0

        def get_latest_version(self, actor_id):
            return self.inner.get_latest_version(actor_id)

        def get_events(self, actor_id, from_version=1):
            return self.inner.get_events(actor_id, from_version)

        def save_event(self, event):
            self.inner.save_event(event)
            self.saves += 1
            if self.saves == self.kill_after:  # stored, and the outbox has not marked it yet
                os.kill(os.getpid(), signal.SIGKILL)

    store = SQLiteEventStore(events_path)
    if mode == "restart":
        outbox = DurableOutbox(outbox_path, store, clock=RealClock(), decisions={"reserve": reserve})
        with outbox:
            pass  # start, deliver everything pending, close
        print(json.dumps({"decided": decided, "delivered": outbox.delivered, "refused": outbox.refused}),
              flush=True)
        sys.exit(0)

    outbox = DurableOutbox(outbox_path, KillAfterCommit(store, int(sys.argv[5])), clock=RealClock(),
                           decisions={"reserve": reserve})
    accepted = [outbox.enqueue("sku-1", "Reserved", {"n": n}, decide="reserve", key=f"order-{n}").event_id
                for n in range(count)]
    with open(outbox_path + ".accepted.tmp", "w") as out:
        json.dump(accepted, out)
    os.replace(outbox_path + ".accepted.tmp", outbox_path + ".accepted")
    outbox.start()
    threading.Event().wait()  # deliver until killed
""")

needs_sigkill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


@needs_sigkill
def test_a_decided_write_committed_just_before_a_sigkill_is_found_by_its_key_after_a_restart(
        tmp_path: Path) -> None:
    script, outbox, events = tmp_path / "child.py", tmp_path / "outbox.db", tmp_path / "events.db"
    script.write_text(CHILD)
    count, kill_after = 12, 5
    child = subprocess.run([sys.executable, str(script), "deliver", str(outbox), str(events), str(count),
                            str(kill_after)], capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    accepted = json.loads(Path(str(outbox) + ".accepted").read_text())
    with sqlite3.connect(outbox) as db:
        marked = db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'").fetchone()[0]
    with SQLiteEventStore(events) as store:
        before = len(store.get_events("sku-1"))
    done = subprocess.run([sys.executable, str(script), "restart", str(outbox), str(events), "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    restart = json.loads(done.stdout)
    with SQLiteEventStore(events) as store:
        stored = store.get_events("sku-1")
    print(f"decisions, SIGKILL after commit {kill_after}: in the store at the kill {before}, marked {marked}; "
          f"the restart decided {restart['decided']}, delivered {restart['delivered']}, refused {restart['refused']}; "
          f"stored {len(stored)}")
    assert (before, marked) == (kill_after, kill_after - 1)
    assert kill_after - 1 not in restart["decided"]  # found by its key: not decided again
    assert [e.id for e in stored] == accepted[:8] and len({e.id for e in stored}) == 8  # each once, stock of 8
    assert (restart["delivered"], restart["refused"]) == (8 - marked, count - 8)


# --------------------------------------------------------------------------- an outbox file from before decisions

_V1_TABLE = """CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL UNIQUE,
    actor_id     TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    timestamp_us INTEGER NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'delivered', 'dead_letter')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    version      INTEGER,
    error        TEXT
)"""


def test_an_outbox_file_from_before_decisions_keeps_its_rows_and_delivers_them(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.execute(_V1_TABLE)
        old.execute("CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending'")
        old.execute("INSERT INTO outbox (event_id, actor_id, event_type, data, timestamp_us, state, version) "
                    "VALUES ('e1', ?, 'Placed', '{\"n\":0}', 0, 'delivered', 1)", (ACTOR,))
        old.execute("INSERT INTO outbox (event_id, actor_id, event_type, data, timestamp_us) "
                    "VALUES ('e2', ?, 'Placed', '{\"n\":1}', 0)", (ACTOR,))
        old.commit()
    store = ScriptedStore()
    commit_rival(store.inner, ACTOR)  # stands for e1, delivered long ago
    outbox = make_outbox(path, store, decisions={"reserve": reserve})
    assert [(e.seq, e.event_id, e.state, e.decision) for e in outbox.entries()] == [
        (1, "e1", "delivered", None), (2, "e2", "pending", None)]
    third = outbox.enqueue(ACTOR, "Reserved", {"units": 1}, decide="reserve")
    outbox.start().close()
    assert third.seq == 3 and [e.id for e in store.inner.get_events(ACTOR)][1:] == ["e2", third.event_id]
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"outbox", "sqlite_sequence"}
