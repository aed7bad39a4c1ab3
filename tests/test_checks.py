"""The shared parameter checks: the wrong type is a TypeError, the wrong value a ValueError, both named."""

from __future__ import annotations

import pytest

from aether import InMemoryEventStore
from aether.checks import check_callable, check_instance, check_items


def test_an_instance_of_the_wanted_class_passes_the_instance_check() -> None:
    store = InMemoryEventStore()
    assert check_instance("store", store, InMemoryEventStore, "an InMemoryEventStore") is store


def test_the_class_itself_where_an_instance_is_wanted_is_a_type_error_with_a_hint() -> None:
    with pytest.raises(TypeError, match=r"store must be an InMemoryEventStore, an instance, not the class.*"
                                        r"did you mean InMemoryEventStore\(\)\?"):
        check_instance("store", InMemoryEventStore, InMemoryEventStore, "an InMemoryEventStore")


def test_an_object_whose_repr_raises_is_still_refused_with_the_intended_type_error() -> None:
    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("this repr raises")

    with pytest.raises(TypeError, match=r"store must be an InMemoryEventStore; got <BadRepr object \(its repr "):
        check_instance("store", BadRepr(), InMemoryEventStore, "an InMemoryEventStore")


def test_items_come_back_as_a_new_list() -> None:
    given = (3, 1, 2)
    assert check_items("seeds", given) == [3, 1, 2]


@pytest.mark.parametrize("value", ["abc", b"abc", 7, None, list])
def test_a_str_bytes_class_or_non_iterable_is_not_a_collection_of_items(value: object) -> None:
    with pytest.raises(TypeError, match=r"^seeds must be a list of seeds; got "):
        check_items("seeds", value, "a list of seeds")


def test_an_empty_collection_is_a_value_error_when_items_are_required() -> None:
    with pytest.raises(ValueError, match=r"^seeds must not be empty; got \[\]"):
        check_items("seeds", [], empty=False)


def test_a_class_is_refused_where_a_function_of_a_result_is_wanted() -> None:
    with pytest.raises(TypeError, match=r"measure must be a callable, an instance, not the class itself"):
        check_callable("measure", dict, classes=False)
    assert check_callable("measure", dict) is dict  # a class is callable where a factory is fine
