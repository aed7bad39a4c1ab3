"""Specification of the error family in :mod:`aether.errors`.

Mirrors what the Go original's ``event_test.go`` asked of ``VersionConflictError``:
a readable message with the actor and both versions, field access, the sentinel
check (``errors.Is``), unwrapping through wrappers (``errors.As``), and errors that
cross process boundaries intact.
"""

from __future__ import annotations

import ast
import copy
import inspect
import multiprocessing
import pickle
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aether.errors
from aether.errors import (
    AetherError,
    CircuitBreakerOpenError,
    CommandRefusedError,
    ConflictError,
    DeadlineExceededError,
    DuplicateEventIdError,
    ErrCircuitBreakerOpen,
    ErrVersionConflict,
    LockTimeoutError,
    RequestThrottledError,
    RetriesExhaustedError,
    StoreCorruptedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
    as_version_conflict,
    is_version_conflict,
    iter_exception_chain,
)
from aether.events import Event
from aether.store import InMemoryEventStore

CONFLICT_MESSAGE = re.compile(
    r"^version conflict for actor (?P<actor>.*): attempted version (?P<attempted>\d+), "
    r"but current version is (?P<current>\d+)$"
)


class OrderUpdateFailed(Exception):
    """An application error that wraps whatever made the update fail."""


def raised(exc: BaseException) -> BaseException:
    """Raise *exc* and return it as caught, so it carries a traceback like a real error."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - returning exactly what was raised
        return caught


def wrapped_explicitly(inner: BaseException) -> OrderUpdateFailed:
    """``raise OrderUpdateFailed(...) from inner``, as application code writes it."""
    try:
        try:
            raise inner
        except BaseException as err:
            raise OrderUpdateFailed("could not add item to order-7") from err
    except OrderUpdateFailed as outer:
        return outer


def wrapped_implicitly(inner: BaseException) -> OrderUpdateFailed:
    """An error raised while handling *inner*, without ``from``: only ``__context__`` links them."""
    try:
        try:
            raise inner
        except BaseException:  # noqa: BLE001 - any error, to show implicit chaining
            raise OrderUpdateFailed("cleanup failed too")  # noqa: B904 - implicit chaining on purpose
    except OrderUpdateFailed as outer:
        return outer


def a_conflict() -> VersionConflictError:
    return VersionConflictError("order-7", 3, 5)


# --- message and fields ------------------------------------------------------------------------


def test_message_names_actor_attempted_and_current_version() -> None:
    assert str(VersionConflictError("order-7", 3, 5)) == (
        "version conflict for actor 'order-7': attempted version 3, but current version is 5"
    )


def test_fields_are_readable_by_name() -> None:
    err = VersionConflictError("order-7", attempted_version=3, current_version=5)
    assert (err.actor_id, err.attempted_version, err.current_version) == ("order-7", 3, 5)
    assert err.args == ("order-7", 3, 5)


def test_repr_shows_the_constructor_call() -> None:
    err = VersionConflictError("order-7", 3, 5)
    assert repr(err) == "VersionConflictError(actor_id='order-7', attempted_version=3, current_version=5)"
    assert eval(repr(err), {"VersionConflictError": VersionConflictError}).args == err.args


@pytest.mark.parametrize(
    "actor_id",
    ["order 'quoted'", 'say "hi"', "line\nbreak", "tab\there", "заказ-7", "注文", "emoji-🚀", "back\\slash", " "],
    ids=repr,
)
def test_actor_id_in_message_is_quoted_unambiguously(actor_id: str) -> None:
    message = str(VersionConflictError(actor_id, 2, 1))
    assert "\n" not in message
    match = CONFLICT_MESSAGE.match(message)
    assert match is not None
    assert ast.literal_eval(match["actor"]) == actor_id


@given(actor_id=st.text(min_size=1), attempted=st.integers(1, 2**80), current=st.integers(0, 2**80))
def test_message_always_lets_a_reader_recover_every_field(actor_id: str, attempted: int, current: int) -> None:
    match = CONFLICT_MESSAGE.match(str(VersionConflictError(actor_id, attempted, current)))
    assert match is not None
    assert ast.literal_eval(match["actor"]) == actor_id
    assert (int(match["attempted"]), int(match["current"])) == (attempted, current)


@pytest.mark.parametrize(("attempted", "current"), [(2**63 - 1, 2**63), (2**63, 2**63 + 7), (2**64 + 1, 2**100)])
def test_versions_beyond_64_bits_are_kept_exactly(attempted: int, current: int) -> None:
    err = VersionConflictError("order-7", attempted, current)
    assert (err.attempted_version, err.current_version) == (attempted, current)
    assert f"attempted version {attempted}," in str(err)
    assert str(err).endswith(f"current version is {current}")
    assert err.distance == current - attempted + 1


# --- distance ----------------------------------------------------------------------------------


def test_distance_is_one_when_one_commit_landed_since_our_read() -> None:
    # We read version 2 and tried 3; someone else stored 3 first.
    assert VersionConflictError("order-7", attempted_version=3, current_version=3).distance == 1


def test_distance_counts_every_commit_since_our_read() -> None:
    # We read version 2 and tried 3; others stored 3, 4 and 5.
    assert VersionConflictError("order-7", attempted_version=3, current_version=5).distance == 3


def test_distance_is_negative_when_the_writer_skipped_ahead_of_the_store() -> None:
    # The store holds 2; a writer tried 5 as if it had read 4.
    assert VersionConflictError("order-7", attempted_version=5, current_version=2).distance == -2


# --- the sentinel: ConflictError is Go's ErrVersionConflict -----------------------------------


def test_err_version_conflict_is_the_conflict_error_class() -> None:
    assert ErrVersionConflict is ConflictError


def test_version_conflict_is_an_instance_of_the_sentinel_and_the_base() -> None:
    err = a_conflict()
    assert isinstance(err, ConflictError)
    assert isinstance(err, AetherError)


def test_except_conflict_error_catches_a_version_conflict() -> None:
    with pytest.raises(ConflictError) as info:
        raise a_conflict()
    assert info.value.current_version == 5  # type: ignore[attr-defined]


def test_except_err_version_conflict_catches_a_version_conflict() -> None:
    try:
        raise a_conflict()
    except ErrVersionConflict as err:
        caught: BaseException = err
    assert isinstance(caught, VersionConflictError)


@pytest.mark.parametrize(
    "err",
    [
        StoreUnavailableError(),
        LockTimeoutError("database is locked"),
        DuplicateEventIdError("evt-1", "order-7", 1, "order-8", 1),
        VersionOutOfRangeError("order-7", 2**63, 2**63 - 1),
        RetriesExhaustedError("order-7", 5),
        CircuitBreakerOpenError("store", 1.5),
    ],
    ids=lambda err: type(err).__name__,
)
def test_other_store_errors_are_not_conflicts(err: AetherError) -> None:
    assert not isinstance(err, ConflictError)
    assert not is_version_conflict(err)
    assert as_version_conflict(err) is None


# --- unwrapping (Go's errors.Is / errors.As) --------------------------------------------------


def test_a_bare_conflict_is_found() -> None:
    err = a_conflict()
    assert is_version_conflict(err)
    assert as_version_conflict(err) is err


def test_conflict_wrapped_with_raise_from_is_found() -> None:
    conflict = a_conflict()
    outer = wrapped_explicitly(conflict)
    assert is_version_conflict(outer)
    assert as_version_conflict(outer) is conflict


def test_conflict_found_through_implicit_context() -> None:
    conflict = a_conflict()
    outer = wrapped_implicitly(conflict)
    assert outer.__cause__ is None
    assert is_version_conflict(outer)
    assert as_version_conflict(outer) is conflict


def test_conflict_hidden_with_raise_from_none_is_not_found() -> None:
    try:
        try:
            raise a_conflict()
        except VersionConflictError:
            raise OrderUpdateFailed("reported without its cause") from None
    except OrderUpdateFailed as outer:
        assert outer.__context__ is not None
        assert not is_version_conflict(outer)
        assert as_version_conflict(outer) is None


def test_conflict_found_several_wrappers_deep() -> None:
    conflict = a_conflict()
    outer = wrapped_explicitly(wrapped_implicitly(wrapped_explicitly(conflict)))
    assert as_version_conflict(outer) is conflict


def test_conflict_found_as_cause_of_retries_exhausted() -> None:
    conflict = a_conflict()
    try:
        try:
            raise conflict
        except VersionConflictError as last:
            raise RetriesExhaustedError("order-7", 5) from last
    except RetriesExhaustedError as gave_up:
        assert as_version_conflict(gave_up) is conflict


def test_conflict_found_inside_an_exception_group() -> None:
    conflict = a_conflict()
    group = ExceptionGroup("writers failed", [ValueError("bad input"), conflict])
    assert is_version_conflict(group)
    assert as_version_conflict(group) is conflict


def test_conflict_found_inside_nested_exception_groups() -> None:
    conflict = a_conflict()
    group = ExceptionGroup(
        "batch", [KeyError("x"), ExceptionGroup("inner", [TypeError("t"), ExceptionGroup("deep", [conflict])])]
    )
    assert as_version_conflict(group) is conflict


def test_conflict_found_as_cause_of_a_group_member() -> None:
    conflict = a_conflict()
    group = ExceptionGroup("batch", [RuntimeError("other"), wrapped_explicitly(conflict)])
    assert as_version_conflict(group) is conflict


def test_conflict_found_as_cause_of_a_group() -> None:
    conflict = a_conflict()
    group = ExceptionGroup("batch", [RuntimeError("other")])
    group.__cause__ = conflict
    assert as_version_conflict(group) is conflict


def test_as_version_conflict_returns_the_outermost_conflict() -> None:
    inner = VersionConflictError("order-7", 2, 3)
    outer = VersionConflictError("order-7", 4, 5)
    outer.__cause__ = inner
    assert as_version_conflict(wrapped_explicitly(outer)) is outer


def test_a_bare_sentinel_is_a_conflict_without_fields() -> None:
    err = wrapped_explicitly(ConflictError("someone else won"))
    assert is_version_conflict(err)
    assert as_version_conflict(err) is None


@pytest.mark.parametrize(
    "err",
    [
        ValueError("x"),
        raised(KeyError("k")),
        wrapped_explicitly(RuntimeError("unrelated")),
        wrapped_implicitly(StoreUnavailableError()),
        ExceptionGroup("g", [ValueError("a"), ExceptionGroup("h", [OSError("b")])]),
        KeyboardInterrupt(),
    ],
    ids=["plain", "raised", "explicit-wrap", "implicit-wrap", "group", "base-exception"],
)
def test_unrelated_errors_are_not_conflicts(err: BaseException) -> None:
    assert is_version_conflict(err) is False
    assert as_version_conflict(err) is None


def test_none_is_not_a_conflict() -> None:
    assert is_version_conflict(None) is False
    assert as_version_conflict(None) is None


def test_a_cause_cycle_terminates() -> None:
    a, b = OrderUpdateFailed("a"), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a
    assert is_version_conflict(a) is False
    assert as_version_conflict(a) is None
    assert [str(e) for e in iter_exception_chain(a)] == ["a", "b"]


def test_a_self_cycle_terminates() -> None:
    err = OrderUpdateFailed("me")
    err.__cause__ = err
    err.__context__ = err
    assert is_version_conflict(err) is False
    assert list(iter_exception_chain(err)) == [err]


def test_a_conflict_inside_a_cycle_is_still_found() -> None:
    conflict = a_conflict()
    a, b = OrderUpdateFailed("a"), RuntimeError("b")
    a.__context__, b.__context__, b.__cause__ = b, a, conflict
    assert as_version_conflict(a) is conflict


def test_a_group_that_contains_itself_terminates() -> None:
    group = ExceptionGroup("g", [ValueError("v")])
    group.exceptions[0].__cause__ = group
    assert is_version_conflict(group) is False


# --- an application uses the fields -----------------------------------------------------------


def test_application_retries_at_the_version_after_current_version() -> None:
    store = InMemoryEventStore()
    for version in (1, 2, 3):
        store.save_event(Event(actor_id="order-7", event_type="ItemAdded", version=version))
    stale = Event(actor_id="order-7", event_type="ItemAdded", version=2, data={"sku": "A1"})

    try:
        try:
            store.save_event(stale)
        except VersionConflictError as err:
            raise OrderUpdateFailed("could not add A1") from err
    except OrderUpdateFailed as failure:
        conflict = as_version_conflict(failure)

    assert conflict is not None
    assert (conflict.actor_id, conflict.attempted_version, conflict.current_version) == ("order-7", 2, 3)
    store.save_event(stale.replace(version=conflict.current_version + 1))
    assert store.get_latest_version("order-7") == 4
    assert store.get_events("order-7", from_version=4)[0].data == {"sku": "A1"}


# --- the other errors' messages ---------------------------------------------------------------


def test_retries_exhausted_message_names_actor_attempts_and_reason() -> None:
    message = str(RetriesExhaustedError("order\n7", 5, "deadline of 2.0 s passed"))
    assert repr("order\n7") in message
    assert "after 5 attempt(s)" in message
    assert message.endswith(": deadline of 2.0 s passed")
    assert "\n" not in message


def test_retries_exhausted_has_a_default_reason() -> None:
    err = RetriesExhaustedError("order-7", 3)
    assert err.reason == "retry limit reached"
    assert str(err).endswith("retry limit reached")


def test_circuit_breaker_open_message_names_breaker_and_wait_in_seconds() -> None:
    message = str(CircuitBreakerOpenError("orders-db", 1.23456))
    assert repr("orders-db") in message
    assert "open" in message
    assert "1.235 s" in message


def test_circuit_breaker_open_is_gos_err_circuit_breaker_open() -> None:
    assert ErrCircuitBreakerOpen is CircuitBreakerOpenError
    err = CircuitBreakerOpenError()
    assert (err.name, err.retry_after) == ("breaker", 0.0)


def test_duplicate_event_id_message_names_stored_and_new_place() -> None:
    message = str(DuplicateEventIdError("evt-1", "order-7", 1, "order-8", 4))
    assert all(part in message for part in ("'evt-1'", "'order-7' version 1", "'order-8' version 4"))
    assert isinstance(DuplicateEventIdError("evt-1", "a", 1, "b", 1), ValueError)


def test_version_out_of_range_message_names_version_and_limit() -> None:
    message = str(VersionOutOfRangeError("order-7", 2**63, 2**63 - 1))
    assert str(2**63) in message
    assert f"up to {2**63 - 1}" in message


def test_lock_timeout_is_a_store_unavailable_error_with_its_message() -> None:
    err = LockTimeoutError("database is locked")
    assert isinstance(err, StoreUnavailableError)
    assert str(err) == "database is locked"
    assert str(StoreUnavailableError()) == "event store unavailable"


# --- crossing process boundaries --------------------------------------------------------------

# One example of every error class, with the fields it must keep.
SAMPLES: list[tuple[type[AetherError], tuple[Any, ...], dict[str, Any]]] = [
    (AetherError, ("something failed",), {}),
    (ConflictError, ("someone else won",), {}),
    (
        VersionConflictError,
        ("order 'x'\n✓", 2**63 + 1, 2**64),
        {"actor_id": "order 'x'\n✓", "attempted_version": 2**63 + 1, "current_version": 2**64},
    ),
    (
        DuplicateEventIdError,
        ("evt-1", "order-7", 1, "order-8", 4),
        {"event_id": "evt-1", "stored_actor_id": "order-7", "stored_version": 1, "actor_id": "order-8", "version": 4},
    ),
    (
        VersionOutOfRangeError,
        ("order-7", 2**63, 2**63 - 1),
        {"actor_id": "order-7", "version": 2**63, "max_version": 2**63 - 1},
    ),
    (StoreUnavailableError, ("outage window",), {"message": "outage window"}),
    (LockTimeoutError, ("database is locked",), {"message": "database is locked"}),
    (StoreOverloadedError, ("queue full",), {"message": "queue full"}),
    (StoreTimeoutError, ("no reply in 0.1 s",), {"message": "no reply in 0.1 s"}),
    (StoreCorruptedError, ("database disk image is malformed",), {"message": "database disk image is malformed"}),
    (
        RetriesExhaustedError,
        ("order-7", 5, "deadline passed"),
        {"actor_id": "order-7", "attempts": 5, "reason": "deadline passed"},
    ),
    (
        DeadlineExceededError,
        ("order-7", 0.5, 3),
        {"actor_id": "order-7", "deadline": 0.5, "attempts": 3},
    ),
    (
        CommandRefusedError,
        ("sku-42", 10, "out of stock"),
        {"actor_id": "sku-42", "version": 10, "reason": "out of stock"},
    ),
    (CircuitBreakerOpenError, ("orders-db", 0.25), {"name": "orders-db", "retry_after": 0.25}),
    (RequestThrottledError, ("order-7", 2), {"actor_id": "order-7", "attempt": 2}),
]
SAMPLE_IDS = [cls.__name__ for cls, _, _ in SAMPLES]


def assert_same_error(
    restored: BaseException, cls: type[AetherError], args: tuple[Any, ...], fields: dict[str, Any]
) -> None:
    original = cls(*args)
    assert type(restored) is cls
    assert restored.args == original.args
    assert str(restored) == str(original)
    for name, value in fields.items():
        assert getattr(restored, name) == value, name


def raise_error(cls: type[AetherError], args: tuple[Any, ...]) -> None:
    """Worker function: build and raise the error inside the worker process."""
    raise cls(*args)


def test_samples_cover_every_error_class() -> None:
    classes = {
        obj
        for obj in vars(aether.errors).values()
        if inspect.isclass(obj) and issubclass(obj, AetherError) and obj.__module__ == aether.errors.__name__
    }
    assert classes == {cls for cls, _, _ in SAMPLES}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize(("cls", "args", "fields"), SAMPLES, ids=SAMPLE_IDS)
def test_error_survives_pickle(
    cls: type[AetherError], args: tuple[Any, ...], fields: dict[str, Any], protocol: int
) -> None:
    restored = pickle.loads(pickle.dumps(raised(cls(*args)), protocol=protocol))
    assert_same_error(restored, cls, args, fields)


@pytest.mark.parametrize(("cls", "args", "fields"), SAMPLES, ids=SAMPLE_IDS)
def test_error_survives_deepcopy(cls: type[AetherError], args: tuple[Any, ...], fields: dict[str, Any]) -> None:
    original = raised(cls(*args))
    restored = copy.deepcopy(original)
    assert restored is not original
    assert_same_error(restored, cls, args, fields)


def test_notes_survive_pickle() -> None:
    err = a_conflict()
    err.add_note("while adding item A1")
    assert pickle.loads(pickle.dumps(err)).__notes__ == ["while adding item A1"]


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[ProcessPoolExecutor]:
    """One worker process for the whole module; 'spawn' so no locks or threads are inherited."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.mark.parametrize(("cls", "args", "fields"), SAMPLES, ids=SAMPLE_IDS)
def test_error_raised_in_a_worker_process_arrives_intact(
    worker_pool: ProcessPoolExecutor, cls: type[AetherError], args: tuple[Any, ...], fields: dict[str, Any]
) -> None:
    future = worker_pool.submit(raise_error, cls, args)
    with pytest.raises(cls) as info:
        future.result(timeout=30)
    assert_same_error(info.value, cls, args, fields)


def test_conflict_from_a_worker_process_is_still_a_conflict(worker_pool: ProcessPoolExecutor) -> None:
    future = worker_pool.submit(raise_error, VersionConflictError, ("order-7", 3, 5))
    with pytest.raises(ConflictError) as info:
        future.result(timeout=30)
    conflict = as_version_conflict(info.value)
    assert conflict is not None
    assert (conflict.actor_id, conflict.attempted_version, conflict.current_version) == ("order-7", 3, 5)
