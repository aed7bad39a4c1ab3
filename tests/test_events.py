"""Specification of :class:`aether.events.Event` and its frozen ``data``."""

from __future__ import annotations

import copy
import json
import math
import pickle
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether.events import (
    MAX_DATA_DEPTH,
    MAX_DATA_INT_DIGITS,
    Event,
    FrozenData,
    validate_actor_id,
    validate_version,
)

FIXED_TIME = datetime(2024, 5, 17, 12, 30, tzinfo=UTC)


def make_event(**overrides: Any) -> Event:
    """A valid event; keyword arguments override single fields."""
    fields: dict[str, Any] = {"actor_id": "order-7", "event_type": "ItemAdded", "version": 1}
    fields.update(overrides)
    return Event(**fields)


def fixed_event(**overrides: Any) -> Event:
    """A valid event with every field pinned, so two calls build equal events."""
    fields: dict[str, Any] = {"id": "evt-1", "timestamp": FIXED_TIME, "data": {"sku": "A1", "qty": [1, 2]}}
    fields.update(overrides)
    return make_event(**fields)


# --- actor_id and event_type -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["actor_id", "event_type"])
def test_empty_string_field_is_rejected_with_value_error_naming_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be a non-empty str"):
        make_event(**{field: ""})


@pytest.mark.parametrize("field", ["actor_id", "event_type"])
@pytest.mark.parametrize("bad", [None, 7, b"order-7", ["order-7"]], ids=repr)
def test_non_string_field_is_rejected_with_type_error_naming_field_and_value(field: str, bad: object) -> None:
    with pytest.raises(TypeError) as info:
        make_event(**{field: bad})
    message = str(info.value)
    assert message.startswith(field)
    assert repr(bad) in message
    assert type(bad).__name__ in message


def test_validate_actor_id_returns_a_valid_actor_id_unchanged() -> None:
    assert validate_actor_id("order-7") == "order-7"


@pytest.mark.parametrize("field", ["actor_id", "event_type", "id"])
@pytest.mark.parametrize("bad", ["\ud800", "order-\udfff", "é\udc80"], ids=ascii)
def test_text_fields_with_a_lone_surrogate_are_refused_naming_the_field(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be text that can be encoded as UTF-8") as info:
        make_event(**{field: bad})
    assert repr(bad) in str(info.value)


def test_validate_actor_id_refuses_a_lone_surrogate() -> None:
    with pytest.raises(ValueError, match="^actor_id .*UTF-8"):
        validate_actor_id("order-\ud800")


@pytest.mark.parametrize("field", ["actor_id", "event_type", "id"])
def test_text_fields_take_any_text_that_utf8_can_encode(field: str) -> None:
    text = "ördér ☃ 🎉 \x00"
    assert getattr(make_event(**{field: text}), field) == text


# --- version -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [True, False, 1.0, "1", None, [1]], ids=repr)
def test_version_that_is_not_an_int_is_a_type_error_naming_field_and_value(bad: object) -> None:
    with pytest.raises(TypeError) as info:
        make_event(version=bad)
    message = str(info.value)
    assert message.startswith("version ")
    assert f"got {bad!r}" in message


@pytest.mark.parametrize("bad", [0, -1, -(2**70)])
def test_version_below_one_is_a_value_error_naming_field_and_value(bad: int) -> None:
    with pytest.raises(ValueError) as info:
        make_event(version=bad)
    message = str(info.value)
    assert message.startswith("version ")
    assert f"got {bad!r}" in message


@pytest.mark.parametrize("good", [1, 2, 2**63 - 1, 2**63, 2**100])
def test_any_positive_int_is_a_valid_version(good: int) -> None:
    assert make_event(version=good).version == good


def test_validate_version_names_the_field_it_was_given() -> None:
    with pytest.raises(ValueError, match="^from_version must be a positive int; got 0$"):
        validate_version(0, "from_version")


# --- data --------------------------------------------------------------------------------------


def test_data_defaults_to_an_empty_mapping() -> None:
    event = make_event()
    assert event.data == {}
    assert len(event.data) == 0


@pytest.mark.parametrize("bad", [["sku"], "sku", 3, ("a", 1)], ids=repr)
def test_data_that_is_not_a_mapping_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^Event\.data must be a mapping; got "):
        make_event(data=bad)


@pytest.mark.parametrize(
    ("data", "path", "exc_type"),
    [
        ({"tags": {"a", "b"}}, "['tags']", TypeError),
        ({"handle": object()}, "['handle']", TypeError),
        ({"price": math.nan}, "['price']", ValueError),
        ({"price": math.inf}, "['price']", ValueError),
        ({"price": -math.inf}, "['price']", ValueError),
        ({"when": FIXED_TIME}, "['when']", TypeError),
        ({"lines": [{"qty": 1}, {"qty": {1, 2}}]}, "['lines'][1]['qty']", TypeError),
        ({"a": {"b": [0, [math.nan]]}}, "['a']['b'][1][0]", ValueError),
    ],
    ids=["set", "object", "nan", "inf", "-inf", "datetime", "nested-set", "nested-nan"],
)
def test_non_json_data_is_rejected_with_the_path_to_the_bad_value(
    data: dict[str, Any], path: str, exc_type: type[Exception]
) -> None:
    with pytest.raises(exc_type) as info:
        make_event(data=data)
    assert str(info.value).startswith(f"Event.data{path} ")


@pytest.mark.parametrize(
    ("data", "path"),
    [({"note": "\ud800"}, "['note']"), ({"lines": ["ok", {"n": "x\udfffy"}]}, "['lines'][1]['n']"),
     ({"k": "é\udc80"}, "['k']")],
    ids=["flat", "nested", "non-ascii"],
)
def test_data_text_with_a_lone_surrogate_is_refused_naming_the_path(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ValueError, match="UTF-8") as info:
        make_event(data=data)
    assert str(info.value).startswith(f"Event.data{path} ")


@pytest.mark.parametrize("data", [{"\ud800": 1}, {"outer": {"\udc00": 1}}], ids=["flat", "nested"])
def test_data_keys_with_a_lone_surrogate_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"^Event\.data.* keys must be text that can be encoded as UTF-8"):
        make_event(data=data)


def test_data_integers_may_have_as_many_digits_as_python_converts_to_text_by_default() -> None:
    assert MAX_DATA_INT_DIGITS == sys.int_info.default_max_str_digits == 4300


LONGEST = 10**MAX_DATA_INT_DIGITS - 1  # 4300 nines


@pytest.mark.parametrize("value", [-LONGEST, -(2**63), -1, 0, 2**80, LONGEST],
                         ids=["-4300 digits", "-2**63", "-1", "0", "2**80", "4300 digits"])
def test_data_integers_up_to_the_digit_limit_are_kept_and_encoded(value: int) -> None:
    event = make_event(data={"n": value, "nested": [value]})
    assert event.data == {"n": value, "nested": [value]}
    assert json.loads(event.data.to_json()) == {"n": value, "nested": [value]}


@pytest.mark.parametrize("value", [LONGEST + 1, -LONGEST - 1, 10**5000], ids=["4301 digits", "-4301 digits",
                                                                                "5001 digits"])
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_data_integers_beyond_the_digit_limit_are_refused_naming_the_path(value: int, nested: bool) -> None:
    data: dict[str, Any] = {"outer": [value]} if nested else {"n": value}
    with pytest.raises(ValueError, match=f"at most MAX_DATA_INT_DIGITS={MAX_DATA_INT_DIGITS} digits") as info:
        make_event(data=data)
    assert str(info.value).startswith("Event.data['outer'][0] " if nested else "Event.data['n'] ")
    assert len(str(info.value)) < 300  # a 5,000-digit number is described, not printed


def test_data_that_contains_itself_is_refused() -> None:
    data: dict[str, Any] = {"name": "loop"}
    data["self"] = data
    with pytest.raises(ValueError, match=r"^Event\.data\['self'\] contains itself"):
        make_event(data=data)


def test_a_list_in_data_that_contains_itself_is_refused() -> None:
    lines: list[Any] = [1]
    lines.append(lines)
    with pytest.raises(ValueError, match=r"^Event\.data\['lines'\]\[1\] contains itself"):
        make_event(data={"lines": lines})


def test_the_same_value_twice_in_data_is_not_a_cycle() -> None:
    shared = {"sku": "A1"}
    assert make_event(data={"first": shared, "second": [shared, shared]}).data.thaw() == {
        "first": {"sku": "A1"}, "second": [{"sku": "A1"}, {"sku": "A1"}]}


def nested_data(levels: int) -> dict[str, Any]:
    """Data that is *levels* mappings deep (``{}`` is one level)."""
    data: dict[str, Any] = {}
    for _ in range(levels - 1):
        data = {"x": data}
    return data


def test_data_nested_as_deep_as_the_limit_is_kept() -> None:
    event = make_event(data=nested_data(MAX_DATA_DEPTH))
    assert json.loads(event.data.to_json()) == nested_data(MAX_DATA_DEPTH)


@pytest.mark.parametrize("levels", [MAX_DATA_DEPTH + 1, 100_000])
def test_data_nested_deeper_than_the_limit_is_refused_naming_data(levels: int) -> None:
    with pytest.raises(ValueError, match=f"^Event\\.data is nested more than MAX_DATA_DEPTH={MAX_DATA_DEPTH}"):
        make_event(data=nested_data(levels))


def test_lists_count_towards_the_depth_limit() -> None:
    data: Any = []
    for _ in range(MAX_DATA_DEPTH):
        data = [data]
    with pytest.raises(ValueError, match="MAX_DATA_DEPTH"):
        make_event(data={"lists": data})


def wrapped(value: Any, levels: int) -> dict[str, Any]:
    """*value* under *levels* mappings (``wrapped(v, 1) == {"x": v}``)."""
    for _ in range(levels):
        value = {"x": value}
    return value


def test_frozen_data_nested_in_other_data_counts_towards_the_depth_limit() -> None:
    inner = FrozenData(nested_data(60))

    assert make_event(data=wrapped(inner, MAX_DATA_DEPTH - 60)).data  # 40 levels above 60: exactly the limit
    with pytest.raises(ValueError, match="MAX_DATA_DEPTH"):
        make_event(data=wrapped(inner, MAX_DATA_DEPTH - 59))


@pytest.mark.parametrize("key", [1, None, ("a",), b"a"], ids=repr)
def test_non_string_keys_are_rejected_naming_the_key(key: object) -> None:
    with pytest.raises(TypeError) as info:
        make_event(data={"outer": {key: 1}})
    message = str(info.value)
    assert message.startswith("Event.data['outer'] keys must be str")
    assert repr(key) in message


def test_data_equals_a_plain_dict_with_the_same_content() -> None:
    event = make_event(data={"sku": "A1", "qty": 2, "tags": ["x", "y"], "meta": {"k": None}})
    assert event.data == {"sku": "A1", "qty": 2, "tags": ["x", "y"], "meta": {"k": None}}
    assert {"sku": "A1", "qty": 2, "tags": ["x", "y"], "meta": {"k": None}} == event.data


def test_data_differs_from_a_dict_with_other_content() -> None:
    assert make_event(data={"qty": 2}).data != {"qty": 3}
    assert make_event(data={"qty": 2}).data != {"qty": 2, "sku": "A1"}


def test_data_is_a_copy_so_changing_the_original_afterwards_changes_nothing() -> None:
    original: dict[str, Any] = {"lines": [{"qty": 1}], "meta": {"k": "v"}}
    event = make_event(data=original)
    original["lines"][0]["qty"] = 99
    original["lines"].append({"qty": 2})
    original["meta"]["k"] = "changed"
    original["new"] = True
    assert event.data == {"lines": [{"qty": 1}], "meta": {"k": "v"}}


def test_nested_lists_become_tuples() -> None:
    event = make_event(data={"lines": [1, [2, 3]]})
    assert event.data["lines"] == (1, (2, 3))
    assert isinstance(event.data["lines"], tuple)


def test_data_does_not_support_item_assignment() -> None:
    event = make_event(data={"qty": 1})
    with pytest.raises(TypeError):
        event.data["qty"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        del event.data["qty"]  # type: ignore[attr-defined]
    assert event.data == {"qty": 1}


def test_nested_mappings_and_lists_in_data_cannot_be_changed() -> None:
    event = make_event(data={"meta": {"k": "v"}, "lines": [1, 2]})
    with pytest.raises(TypeError):
        event.data["meta"]["k"] = "w"
    with pytest.raises(TypeError):
        event.data["lines"][0] = 5
    with pytest.raises(AttributeError):
        event.data["lines"].append(3)
    assert event.data == {"meta": {"k": "v"}, "lines": [1, 2]}


def test_thaw_returns_independent_plain_dicts_and_lists() -> None:
    event = make_event(data={"meta": {"k": "v"}, "lines": [1, [2]]})
    thawed = event.data.thaw()
    assert type(thawed) is dict
    assert type(thawed["meta"]) is dict
    assert type(thawed["lines"]) is list
    assert type(thawed["lines"][1]) is list
    thawed["meta"]["k"] = "w"
    thawed["lines"][1].append(3)
    assert event.data.thaw() == {"meta": {"k": "v"}, "lines": [1, [2]]}


def test_frozen_data_built_directly_is_also_a_deep_copy() -> None:
    original = {"lines": [1]}
    frozen = FrozenData(original)
    original["lines"].append(2)
    assert frozen == {"lines": [1]}


def test_frozen_data_built_directly_validates_its_content() -> None:
    with pytest.raises(ValueError, match=r"\['x'\]"):
        FrozenData({"x": math.nan})


def test_to_json_round_trips_through_json_loads() -> None:
    data = {"sku": "Ä1 ✓", "qty": 2, "price": 9.5, "ok": True, "none": None, "lines": [{"n": 1}, []]}
    assert json.loads(make_event(data=data).data.to_json()) == data


def test_to_json_keeps_the_original_key_order() -> None:
    assert make_event(data={"b": 1, "a": 2}).data.to_json() == '{"b":1,"a":2}'


json_scalars = (
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_any_json_data_round_trips_through_event_and_json(data: dict[str, Any]) -> None:
    # Finite floats only: NaN is not JSON. -0.0 == 0.0, and json writes and reads it back exactly.
    event = make_event(data=data)
    assert json.loads(event.data.to_json()) == event.data.thaw() == data


# --- timestamp ---------------------------------------------------------------------------------


def test_naive_timestamp_is_rejected() -> None:
    naive = datetime(2024, 5, 17, 12, 30)
    with pytest.raises(ValueError, match="^timestamp must be timezone-aware; got naive"):
        make_event(timestamp=naive)


@pytest.mark.parametrize("bad", ["2024-05-17T12:30:00Z", 1715949000.0], ids=repr)
def test_timestamp_that_is_not_a_datetime_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="^timestamp must be a datetime"):
        make_event(timestamp=bad)


def test_aware_non_utc_timestamp_is_converted_to_the_same_instant_in_utc() -> None:
    berlin_summer = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 17, 14, 30, tzinfo=berlin_summer)
    event = make_event(timestamp=local)
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.timestamp == local
    assert (event.timestamp.hour, event.timestamp.minute) == (12, 30)


def test_default_timestamp_is_aware_utc_and_now() -> None:
    before = datetime.now(UTC)
    event = make_event()
    after = datetime.now(UTC)
    assert event.timestamp.utcoffset() == timedelta(0)
    assert before <= event.timestamp <= after


# --- id ----------------------------------------------------------------------------------------


def test_default_id_is_a_non_empty_string() -> None:
    event = make_event()
    assert isinstance(event.id, str)
    assert event.id


def test_default_ids_are_unique() -> None:
    ids = {make_event().id for _ in range(1000)}
    assert len(ids) == 1000


def test_a_new_event_id_reads_as_a_random_version_4_uuid_in_hex() -> None:
    import uuid

    from aether.events import new_event_id

    for _ in range(200):
        made = new_event_id()
        parsed = uuid.UUID(hex=made)
        assert made == parsed.hex  # 32 lowercase hex digits
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_given_id_is_kept() -> None:
    assert make_event(id="evt-42").id == "evt-42"


@pytest.mark.parametrize(("bad", "exc_type"), [("", ValueError), (42, TypeError)], ids=repr)
def test_bad_id_is_rejected_naming_the_field(bad: object, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type, match="^id must be a non-empty str"):
        make_event(id=bad)


# --- immutability -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["id", "actor_id", "event_type", "version", "data", "timestamp", "extra"])
def test_fields_cannot_be_set(field: str) -> None:
    event = make_event()
    with pytest.raises(AttributeError, match="immutable"):
        setattr(event, field, "x")


@pytest.mark.parametrize("field", ["id", "actor_id", "version", "data"])
def test_fields_cannot_be_deleted(field: str) -> None:
    event = make_event()
    with pytest.raises(AttributeError, match="immutable"):
        delattr(event, field)
    assert getattr(event, field) is not None


def test_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Event("order-7", "ItemAdded", 1)  # type: ignore[misc]


# --- equality, hashing, copies -----------------------------------------------------------------


def test_events_with_equal_fields_are_equal_and_hash_equal() -> None:
    assert fixed_event() == fixed_event()
    assert hash(fixed_event()) == hash(fixed_event())


def test_data_key_order_does_not_affect_equality_or_hash() -> None:
    first = fixed_event(data={"a": 1, "b": {"x": 1, "y": 2}})
    second = fixed_event(data={"b": {"y": 2, "x": 1}, "a": 1})
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"id": "evt-2"},
        {"actor_id": "order-8"},
        {"event_type": "ItemRemoved"},
        {"version": 2},
        {"data": {"sku": "B2"}},
        {"timestamp": FIXED_TIME + timedelta(microseconds=1)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_events_differing_in_any_field_are_not_equal(change: dict[str, Any]) -> None:
    assert fixed_event() != fixed_event(**change)


def test_event_is_not_equal_to_other_types() -> None:
    assert fixed_event() != "evt-1"
    assert fixed_event() != {"id": "evt-1"}


def test_equal_instants_in_different_zones_make_equal_events() -> None:
    local = FIXED_TIME.astimezone(timezone(timedelta(hours=-5)))
    assert fixed_event(timestamp=local) == fixed_event()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip_gives_an_equal_event(protocol: int) -> None:
    event = fixed_event()
    restored = pickle.loads(pickle.dumps(event, protocol=protocol))
    assert restored == event
    assert restored.timestamp.utcoffset() == timedelta(0)
    assert isinstance(restored.data, FrozenData)


def test_deepcopy_gives_an_equal_event() -> None:
    event = fixed_event()
    assert copy.deepcopy(event) == event
    assert copy.copy(event) == event


def test_repr_names_every_field() -> None:
    text = repr(fixed_event())
    for part in ("actor_id='order-7'", "event_type='ItemAdded'", "version=1", "id='evt-1'", "2024-05-17T12:30:00"):
        assert part in text


# --- replace and same_as -----------------------------------------------------------------------


def test_replace_changes_the_given_field_and_keeps_the_others() -> None:
    event = fixed_event()
    retried = event.replace(version=5)
    assert retried.version == 5
    assert event.version == 1
    assert (retried.actor_id, retried.event_type, retried.data, retried.timestamp) == (
        event.actor_id,
        event.event_type,
        event.data,
        event.timestamp,
    )


def test_replace_gives_a_new_id_unless_one_is_given() -> None:
    event = fixed_event()
    assert event.replace(version=2).id != event.id
    assert event.replace(version=2, id=event.id).id == event.id


def test_replace_validates_the_new_values() -> None:
    with pytest.raises(ValueError, match="^version must be a positive int; got 0$"):
        fixed_event().replace(version=0)


def test_same_as_is_true_for_a_resend_of_the_same_event() -> None:
    event = fixed_event()
    resend = fixed_event(data={"other": "payload"}, timestamp=FIXED_TIME + timedelta(seconds=3))
    assert event.same_as(resend)


@pytest.mark.parametrize("change", [{"id": "evt-2"}, {"actor_id": "order-8"}, {"version": 2}])
def test_same_as_is_false_when_id_actor_or_version_differ(change: dict[str, Any]) -> None:
    assert not fixed_event().same_as(fixed_event(**change))


def test_at_version_keeps_the_id_actor_type_and_data_and_takes_the_new_version() -> None:
    first = make_event(version=1, data={"units": 1})
    later = first.at_version(7)
    assert (later.id, later.actor_id, later.event_type, later.data) == (first.id, first.actor_id, first.event_type,
                                                                        first.data)
    assert later.version == 7 and later.timestamp >= first.timestamp
    assert later.timestamp.tzinfo is not None


def test_at_version_with_data_checks_and_freezes_the_new_data() -> None:
    first = make_event(version=1, data={"units": 1})
    later = first.at_version(2, {"units": 2, "sku": "A1"})
    assert later.data == {"units": 2, "sku": "A1"} and isinstance(later.data, FrozenData)
    assert first.at_version(3, None).data == {}
    with pytest.raises(ValueError, match="must be JSON-serialisable"):
        first.at_version(2, {"x": math.nan})


@pytest.mark.parametrize(("bad", "exc_type"), [(0, ValueError), (-1, ValueError), ("3", TypeError), (True, TypeError)])
def test_at_version_refuses_a_version_the_constructor_refuses(bad: object, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type, match="version must be a positive int"):
        make_event(version=1).at_version(bad)  # type: ignore[arg-type]
