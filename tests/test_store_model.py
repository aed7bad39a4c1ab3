"""Each store against a dict-of-lists model, under random sequences of saves.

The model is the contract written as plainly as possible: an actor's events
are a list, the latest version is its length, and an event id names at most
one stored event.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from aether.errors import DuplicateEventIdError, VersionConflictError
from aether.events import Event
from aether.store.base import EventStore
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

ACTORS = st.sampled_from(["a", "b", "ü 'quoted'\nline"])
VERSION_OFFSETS = st.integers(min_value=-3, max_value=3)  # added to the model's "latest + 1"
DATA = st.dictionaries(
    st.text(max_size=3),
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats(allow_nan=False, allow_infinity=False),
    max_size=3,
)


class StoreAgainstModel(RuleBasedStateMachine):
    """Drive a store and the model with the same saves; they must always agree."""

    stored = Bundle("stored")

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.streams: dict[str, list[Event]] = {}
        self.by_id: dict[str, Event] = {}

    def make_store(self) -> EventStore:
        raise NotImplementedError

    def expect(self, event: Event) -> type[Exception] | None:
        """What the contract says saving *event* does now: None (stored or no-op), or the error type."""
        latest = len(self.streams.get(event.actor_id, []))
        known = self.by_id.get(event.id)
        if known is not None:
            return None if event.same_as(known) else DuplicateEventIdError
        return None if event.version == latest + 1 else VersionConflictError

    def save(self, event: Event) -> Event | None:
        """Save in store and model; check the outcome; return the event if it was newly stored."""
        expected = self.expect(event)
        newly_stored = expected is None and event.id not in self.by_id
        try:
            self.store.save_event(event)
        except (VersionConflictError, DuplicateEventIdError) as error:
            assert type(error) is expected, f"{event!r} raised {error!r}, expected {expected}"
            if isinstance(error, VersionConflictError):
                latest = len(self.streams.get(event.actor_id, []))
                assert (error.actor_id, error.attempted_version, error.current_version) == (
                    event.actor_id,
                    event.version,
                    latest,
                )
            return None
        assert expected is None, f"{event!r} was accepted, expected {expected.__name__}"
        if newly_stored:
            self.streams.setdefault(event.actor_id, []).append(event)
            self.by_id[event.id] = event
            return event
        return None

    def latest(self, actor_id: str) -> int:
        return len(self.streams.get(actor_id, []))

    @initialize(target=stored, actor_id=ACTORS, data=DATA)
    def first_event(self, actor_id: str, data: dict[str, object]) -> Event:
        event = Event(actor_id=actor_id, event_type="First", version=1, data=data)
        assert self.save(event) is event
        return event

    @rule(target=stored, actor_id=ACTORS, offset=VERSION_OFFSETS, data=DATA)
    def save_new_event(self, actor_id: str, offset: int, data: dict[str, object]) -> Event:
        version = max(1, self.latest(actor_id) + 1 + offset)
        event = Event(actor_id=actor_id, event_type="Saved", version=version, data=data)
        self.save(event)
        return event  # rejected events go to the bundle too: their ids are fresh and reusable

    @rule(event=stored)
    def resend_an_event(self, event: Event) -> None:
        self.save(event)

    @rule(event=stored, actor_id=ACTORS, offset=VERSION_OFFSETS)
    def reuse_an_id(self, event: Event, actor_id: str, offset: int) -> None:
        version = max(1, self.latest(actor_id) + 1 + offset)
        self.save(Event(actor_id=actor_id, event_type="Reused", version=version, id=event.id))

    @invariant()
    def store_matches_model(self) -> None:
        for actor_id, events in self.streams.items():
            assert self.store.get_latest_version(actor_id) == len(events)
            assert self.store.get_events(actor_id) == events
        assert self.store.actor_ids() == list(self.streams)  # type: ignore[attr-defined]


class InMemoryStoreAgainstModel(StoreAgainstModel):
    def make_store(self) -> EventStore:
        return InMemoryEventStore()


class SQLiteStoreAgainstModel(StoreAgainstModel):
    """Each example gets a fresh database file in its own directory."""

    def make_store(self) -> EventStore:
        self.directory = Path(tempfile.mkdtemp(prefix="aether-model-"))
        return SQLiteEventStore(self.directory / "events.db")

    def teardown(self) -> None:
        self.store.close()  # type: ignore[attr-defined]
        shutil.rmtree(self.directory, ignore_errors=True)


TestInMemoryStoreAgainstModel = InMemoryStoreAgainstModel.TestCase
TestInMemoryStoreAgainstModel.settings = settings(max_examples=50, stateful_step_count=25, deadline=None)

TestSQLiteStoreAgainstModel = SQLiteStoreAgainstModel.TestCase
TestSQLiteStoreAgainstModel.settings = settings(
    max_examples=30, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
