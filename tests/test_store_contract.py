"""The EventStore contract: every store passes this same suite unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from storehelpers import STORE_KINDS, fill, make_event, make_store

from aether.errors import DuplicateEventIdError, VersionConflictError
from aether.events import MAX_DATA_INT_DIGITS, Event
from aether.store.base import EventStore

ODD_TEXT = "ördér 'single' \"double\" back\\slash\nnew line\ttab\x00nul ☃ 🎉 ; DROP TABLE events; --"


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EventStore:
    return make_store(request.param, tmp_path)


def snapshot(store: EventStore, *actor_ids: str) -> dict[str, tuple[int, list[Event]]]:
    """Everything a reader can see about some actors: latest version and events."""
    return {actor_id: (store.get_latest_version(actor_id), store.get_events(actor_id)) for actor_id in actor_ids}


# -- the happy path ----------------------------------------------------------------


def test_store_satisfies_the_event_store_protocol(store: EventStore) -> None:
    assert isinstance(store, EventStore)


def test_versions_are_gapless_from_one(store: EventStore) -> None:
    fill(store, "a", 5)

    assert [event.version for event in store.get_events("a")] == [1, 2, 3, 4, 5]
    assert store.get_latest_version("a") == 5


def test_events_read_back_equal_the_events_written(store: EventStore) -> None:
    written = [
        make_event("a", 1, event_type="Created", data={"nested": {"list": [1, 2.5, None, True]}, "big": 2**80}),
        make_event("a", 2, timestamp=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))),
        make_event("a", 3, id="explicit-id", data={}),
    ]
    for event in written:
        store.save_event(event)

    assert store.get_events("a") == written


def test_integers_in_data_read_back_exactly_up_to_the_digit_limit(store: EventStore) -> None:
    longest = 10**MAX_DATA_INT_DIGITS - 1
    event = make_event("a", 1, data={"longest": longest, "negative": -longest, "int64": [-(2**63), 2**63 - 1]})
    store.save_event(event)

    assert store.get_events("a") == [event]


def test_timestamps_read_back_as_the_same_instant_in_utc(store: EventStore) -> None:
    local = datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=timezone(timedelta(hours=2)))
    store.save_event(make_event("a", 1, timestamp=local))

    (stored,) = store.get_events("a")
    assert stored.timestamp == local
    assert stored.timestamp.utcoffset() == timedelta(0)


def test_actors_are_isolated(store: EventStore) -> None:
    fill(store, "a", 3)
    store.save_event(make_event("b", 1))

    assert store.get_latest_version("a") == 3
    assert store.get_latest_version("b") == 1
    assert [event.actor_id for event in store.get_events("b")] == ["b"]


def test_actor_ids_lists_actors_in_first_save_order(store: EventStore) -> None:
    for actor_id in ["zeta", "alpha", "mid"]:
        store.save_event(make_event(actor_id, 1))
    store.save_event(make_event("zeta", 2))

    assert store.actor_ids() == ["zeta", "alpha", "mid"]  # type: ignore[attr-defined]


def test_unknown_actor_has_latest_version_zero_and_no_events(store: EventStore) -> None:
    assert store.get_latest_version("nobody") == 0
    assert store.get_events("nobody") == []


def test_unicode_quotes_and_newlines_survive_in_actor_ids_and_data(store: EventStore) -> None:
    event = make_event(ODD_TEXT, 1, event_type=ODD_TEXT, data={ODD_TEXT: [ODD_TEXT, {"k": ODD_TEXT}]})
    store.save_event(event)

    assert store.get_latest_version(ODD_TEXT) == 1
    assert store.get_events(ODD_TEXT) == [event]
    assert store.actor_ids() == [ODD_TEXT]  # type: ignore[attr-defined]


def test_actor_ids_differing_only_in_case_or_spacing_are_different_actors(store: EventStore) -> None:
    for actor_id in ["order", "Order", "order "]:
        store.save_event(make_event(actor_id, 1))

    assert [store.get_latest_version(a) for a in ["order", "Order", "order ", " order"]] == [1, 1, 1, 0]


# -- get_events --------------------------------------------------------------------


@pytest.mark.parametrize(("from_version", "expected"), [(1, [1, 2, 3, 4]), (3, [3, 4]), (4, [4])])
def test_get_events_from_version_is_inclusive(store: EventStore, from_version: int, expected: list[int]) -> None:
    fill(store, "a", 4)

    assert [event.version for event in store.get_events("a", from_version)] == expected


@pytest.mark.parametrize("from_version", [5, 6, 10**6])
def test_get_events_from_beyond_latest_is_empty(store: EventStore, from_version: int) -> None:
    fill(store, "a", 4)

    assert store.get_events("a", from_version=from_version) == []


@pytest.mark.parametrize(
    ("actor_id", "error"),
    [("", ValueError), ("a\ud800", ValueError), (None, TypeError), (7, TypeError), (b"a", TypeError)],
    ids=ascii,
)
def test_bad_actor_ids_are_rejected_by_readers(store: EventStore, actor_id: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="actor_id"):
        store.get_latest_version(actor_id)  # type: ignore[arg-type]
    with pytest.raises(error, match="actor_id"):
        store.get_events(actor_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("from_version", "error"),
    [(0, ValueError), (-1, ValueError), (True, TypeError), ("1", TypeError), (1.0, TypeError), (None, TypeError)],
)
def test_bad_from_version_is_rejected(store: EventStore, from_version: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="from_version"):
        store.get_events("a", from_version)  # type: ignore[arg-type]


@pytest.mark.parametrize("not_an_event", [None, {"actor_id": "a", "version": 1}, "event"])
def test_save_event_rejects_anything_but_an_event(store: EventStore, not_an_event: object) -> None:
    with pytest.raises(TypeError, match="Event"):
        store.save_event(not_an_event)  # type: ignore[arg-type]


# -- conflicts ---------------------------------------------------------------------


@pytest.mark.parametrize("stale_version", [1, 2, 3])
def test_saving_a_taken_version_is_a_conflict_naming_the_versions(store: EventStore, stale_version: int) -> None:
    fill(store, "a", 3)

    with pytest.raises(VersionConflictError) as caught:
        store.save_event(make_event("a", stale_version))

    conflict = caught.value
    assert (conflict.actor_id, conflict.attempted_version, conflict.current_version) == ("a", stale_version, 3)


@pytest.mark.parametrize(("latest", "attempted"), [(0, 2), (2, 4), (2, 100)])
def test_skipping_a_version_is_a_conflict(store: EventStore, latest: int, attempted: int) -> None:
    fill(store, "a", latest)

    with pytest.raises(VersionConflictError) as caught:
        store.save_event(make_event("a", attempted))

    conflict = caught.value
    assert (conflict.actor_id, conflict.attempted_version, conflict.current_version) == ("a", attempted, latest)
    assert conflict.distance < 0


@pytest.mark.parametrize(("version", "error"), [(0, ValueError), (-1, ValueError), (True, TypeError)])
def test_versions_below_one_are_rejected_when_the_event_is_built(version: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="version"):
        make_event("a", version)  # type: ignore[arg-type]


def test_failed_save_changes_nothing(store: EventStore) -> None:
    fill(store, "a", 2)
    fill(store, "b", 1)
    before = snapshot(store, "a", "b")

    for version in [1, 2, 4]:
        with pytest.raises(VersionConflictError):
            store.save_event(make_event("a", version))

    assert snapshot(store, "a", "b") == before
    assert store.actor_ids() == ["a", "b"]  # type: ignore[attr-defined]


def test_conflict_on_unknown_actor_does_not_create_it(store: EventStore) -> None:
    with pytest.raises(VersionConflictError):
        store.save_event(make_event("ghost", 2))

    assert store.actor_ids() == []  # type: ignore[attr-defined]
    assert store.get_latest_version("ghost") == 0


def test_next_version_from_the_conflict_succeeds(store: EventStore) -> None:
    mine = make_event("a", store.get_latest_version("a") + 1, data={"who": "me"})
    store.save_event(make_event("a", 1, data={"who": "rival"}))
    store.save_event(make_event("a", 2, data={"who": "rival"}))

    with pytest.raises(VersionConflictError) as caught:
        store.save_event(mine)
    retry = mine.replace(version=caught.value.current_version + 1)
    store.save_event(retry)

    assert store.get_latest_version("a") == 3
    assert store.get_events("a", 3) == [retry]


# -- re-saves and ids ----------------------------------------------------------------


@pytest.mark.parametrize("which", [0, 1, 2])
def test_resaving_a_stored_event_is_a_no_op(store: EventStore, which: int) -> None:
    events = fill(store, "a", 3)
    before = snapshot(store, "a")

    store.save_event(events[which])

    assert snapshot(store, "a") == before


def test_resaving_the_last_event_does_not_let_the_next_version_be_skipped(store: EventStore) -> None:
    (event,) = fill(store, "a", 1)
    store.save_event(event)

    store.save_event(make_event("a", 2))
    assert store.get_latest_version("a") == 2


@pytest.mark.parametrize(
    ("actor_id", "version"),
    [("a", 3), ("a", 1), ("a", 7), ("b", 1), ("b", 2)],
    ids=[
        "same-actor-next-version",
        "same-actor-taken-version",
        "same-actor-gap",
        "other-actor-next",
        "other-actor-gap",
    ],
)
def test_reusing_an_id_elsewhere_is_rejected_and_changes_nothing(
    store: EventStore, actor_id: str, version: int
) -> None:
    stored = fill(store, "a", 2)[1]
    before = snapshot(store, "a", "b")

    with pytest.raises(DuplicateEventIdError) as caught:
        store.save_event(make_event(actor_id, version, id=stored.id))

    error = caught.value
    assert (error.event_id, error.stored_actor_id, error.stored_version) == (stored.id, "a", 2)
    assert (error.actor_id, error.version) == (actor_id, version)
    assert snapshot(store, "a", "b") == before


# -- immutability ------------------------------------------------------------------


def test_changing_the_returned_list_does_not_change_the_store(store: EventStore) -> None:
    fill(store, "a", 2)

    events = store.get_events("a")
    events.clear()

    assert len(store.get_events("a")) == 2


def test_stored_events_cannot_be_changed_through_what_readers_get(store: EventStore) -> None:
    store.save_event(make_event("a", 1, data={"items": [1, 2]}))
    (event,) = store.get_events("a")

    with pytest.raises(AttributeError):
        event.version = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.data["items"] = []  # type: ignore[index]
    event.data.thaw()["items"].append(3)

    assert store.get_events("a")[0].data == {"items": [1, 2]}
    assert store.get_latest_version("a") == 1
