"""The :class:`Event` record: one fact about one actor, at one version.

An event store keeps, for every actor, a gapless sequence of events numbered
1, 2, 3, ...  The version is what optimistic concurrency checks: a writer that
read version *n* may only append version *n + 1*.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from aether.checks import show

__all__ = ["MAX_DATA_DEPTH", "MAX_DATA_INT_DIGITS", "Event", "FrozenData", "new_event_id"]

#: The deepest nesting of mappings and lists that event data may have; the data
#: mapping itself is level 1. Real event data is a few levels deep; deeper data
#: (or data that contains itself) is refused with a :class:`ValueError` instead
#: of overflowing the stack in a store's JSON encoder or decoder.
MAX_DATA_DEPTH = 100

#: The most decimal digits an integer in event data may have (sign not counted).
#:
#: It is what every store round-trips: the SQLite store keeps data as JSON
#: text, and Python converts integers to and from text only up to its
#: int-to-str limit, 4300 digits by default (:func:`sys.get_int_max_str_digits`).
#: The rule is checked when the event is built, so the in-memory store refuses
#: what the SQLite store could not write. (An interpreter set to a lower limit
#: refuses such numbers only when it encodes or decodes them.) Integers beyond
#: 64 bits round-trip exactly through both stores, but SQL's own JSON functions
#: read them as approximate floats: keep numbers other programs query in range.
MAX_DATA_INT_DIGITS = 4300

_INT_LIMIT = 10**MAX_DATA_INT_DIGITS  # |n| below this has at most MAX_DATA_INT_DIGITS digits
_NEGATIVE_INT_LIMIT = -_INT_LIMIT
_SURROGATE = re.compile("[\ud800-\udfff]")


class FrozenData(Mapping[str, Any]):
    """A read-only, hashable copy of an event's JSON data.

    Mappings become :class:`FrozenData`, lists and tuples become tuples, and
    scalars are kept. It compares equal to a plain ``dict`` with the same
    top-level items, and :meth:`thaw` gives back ordinary dicts and lists.

    You rarely build one yourself: :class:`Event` freezes its ``data``. When
    you do, ``FrozenData({...})`` validates and deep-copies its argument, so
    changing the original afterwards cannot change the frozen copy.
    """

    __slots__ = ("_items", "_hash", "_depth")

    _items: dict[str, Any]
    _hash: int | None
    _depth: int

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        frozen = _freeze_root(data)
        self._items = frozen._items
        self._hash = frozen._hash
        self._depth = frozen._depth

    @classmethod
    def _wrap(cls, items: dict[str, Any], depth: int = 1) -> FrozenData:
        """Wrap *items*, already frozen and owned by the caller, without copying.

        *depth* is how deeply the frozen items nest (``1``: no mapping or list
        inside), so that nesting frozen data inside other data stays within
        :data:`MAX_DATA_DEPTH`.
        """
        self = cls.__new__(cls)
        self._items = items
        self._hash = None
        self._depth = depth
        return self

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self.thaw())

    def __hash__(self) -> int:
        if self._hash is None:
            # Order-independent, like ``__eq__``: {"a": 1, "b": 2} == {"b": 2, "a": 1}.
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenData):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self.thaw() == _thaw(other)
        return NotImplemented

    def __reduce__(self) -> tuple[Any, ...]:
        return (_freeze_root, (self.thaw(),))

    def thaw(self) -> dict[str, Any]:
        """Return a mutable deep copy made of plain dicts and lists."""
        return {k: _thaw(v) for k, v in self._items.items()}

    def to_json(self) -> str:
        """Serialise to compact JSON with the original key order."""
        return _ENCODER.encode(self._items)


def _encode_nested(value: object) -> dict[str, Any]:
    if isinstance(value, FrozenData):
        return value._items
    raise TypeError(f"not JSON-serialisable: {show(value)}")


# One encoder for every event: building a JSONEncoder per call costs more than the encoding itself.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_encode_nested)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_thaw(v) for v in value]
    return value


_EMPTY = FrozenData._wrap({})


def _is_utf8(text: str) -> bool:
    """True if *text* can be encoded as UTF-8: it holds no lone surrogate (``"\\ud800"``)."""
    return text.isascii() or _SURROGATE.search(text) is None


def check_utf8(name: str, text: str) -> str:
    """Return *text* if it can be encoded as UTF-8; a :class:`ValueError` naming *name* otherwise.

    Every store keeps text as UTF-8, so a string with a lone surrogate (what
    ``"\\ud800"`` or a badly decoded file name gives) is refused when the event
    is built rather than by one store and not by another.
    """
    if not _is_utf8(text):
        found = _SURROGATE.search(text)
        where = f" at index {found.start()}" if found is not None else ""
        raise ValueError(
            f"{_where(name)} must be text that can be encoded as UTF-8; got {show(text)} with a lone surrogate{where}"
        )
    return text


def _where(path: str) -> str:
    """A place in the data for a message, shortened in the middle: keys may be long."""
    return path if len(path) <= 80 else f"{path[:38]}...{path[-38:]}"


def _check_int(value: int, path: str) -> int:
    if _NEGATIVE_INT_LIMIT < value < _INT_LIMIT:
        return value
    raise ValueError(
        f"{_where(path)} must be an integer of at most MAX_DATA_INT_DIGITS={MAX_DATA_INT_DIGITS} digits "
        f"(what every store can write as JSON and read back); got one of {value.bit_length()} bits"
    )


def _freeze(value: Any, path: str, depth: int, active: set[int]) -> tuple[Any, int]:
    """Freeze *value* found at *path*, *depth* levels down; return it and how deep it nests.

    *active* holds the ids of the containers being frozen around *value*, so a
    container that contains itself is refused instead of recursing forever.
    """
    # bool is an int subclass and is valid JSON; NaN and infinities are not.
    if value is None or isinstance(value, bool):
        return value, 0
    if isinstance(value, str):
        return check_utf8(path, value), 0
    if isinstance(value, int):
        return _check_int(value, path), 0
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{_where(path)} must be JSON-serialisable; got non-finite float {value!r}")
        return value, 0
    if isinstance(value, FrozenData):
        _check_depth(path, depth + value._depth - 1)
        return value, value._depth
    if not isinstance(value, (Mapping, list, tuple)):
        raise TypeError(f"{_where(path)} must be JSON-serialisable; got {show(value)} ({type(value).__name__})")
    _check_depth(path, depth)
    if id(value) in active:
        raise ValueError(f"{_where(path)} contains itself (a reference cycle); event data must be a tree")
    active.add(id(value))
    deepest = 0
    try:
        if isinstance(value, Mapping):
            items: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{_where(path)} keys must be str; got {show(key)} ({type(key).__name__})")
                check_utf8(f"{path} keys", key)
                items[key], below = _freeze(item, f"{path}[{key!r}]", depth + 1, active)
                deepest = max(deepest, below)
            return FrozenData._wrap(items, deepest + 1), deepest + 1
        frozen: list[Any] = []
        for i, item in enumerate(value):
            element, below = _freeze(item, f"{path}[{i}]", depth + 1, active)
            frozen.append(element)
            deepest = max(deepest, below)
        return tuple(frozen), deepest + 1
    finally:
        active.discard(id(value))


def _check_depth(path: str, depth: int) -> None:
    if depth > MAX_DATA_DEPTH:
        where = path if len(path) <= 60 else f"{path[:57]}..."
        root = path.split("[", 1)[0]
        raise ValueError(
            f"{root} is nested more than MAX_DATA_DEPTH={MAX_DATA_DEPTH} levels deep (at {where}); "
            "event data must be a tree of at most that depth"
        )


def _flat_scalars(data: dict[Any, Any], _low: int = -_INT_LIMIT, _high: int = _INT_LIMIT,
                  _isfinite: Any = math.isfinite) -> bool:
    """True if *data* maps str keys to valid JSON scalars only (the common case, frozen by a plain copy).

    Anything else (nested data, a value to refuse) takes the full check in :func:`_freeze`.
    The defaults bind constants locally: this runs for every event a simulated writer builds.
    """
    for key, value in data.items():
        if type(key) is not str or not (key.isascii() or _is_utf8(key)):
            return False
        kind = type(value)
        if kind is int:
            if _low < value < _high:
                continue
            return False
        if kind is str:
            if value.isascii() or _is_utf8(value):
                continue
            return False
        if value is None or kind is bool or (kind is float and _isfinite(value)):
            continue
        return False
    return True


def _freeze_root(data: Any, name: str = "Event.data") -> FrozenData:
    if data is None:
        return _EMPTY
    if isinstance(data, FrozenData):
        return data
    if type(data) is dict and _flat_scalars(data):
        return FrozenData._wrap(dict(data))
    if not isinstance(data, Mapping):
        raise TypeError(f"{name} must be a mapping; got {show(data)} ({type(data).__name__})")
    frozen, _ = _freeze(data, name, 1, set())
    assert isinstance(frozen, FrozenData)
    return frozen


def new_event_id() -> str:
    """A fresh event id, what :class:`Event` gives when none is given: a random (version 4) UUID in hex.

    The same form as ``uuid.uuid4().hex`` (32 lowercase hex digits), built without the uuid
    module's overhead; a logical save takes one as its idempotency key.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def validate_actor_id(actor_id: object) -> str:
    """Return *actor_id* if it is a non-empty ``str`` that can be encoded as UTF-8; raise otherwise."""
    if not isinstance(actor_id, str):
        raise TypeError(f"actor_id must be a non-empty str; got {show(actor_id)} ({type(actor_id).__name__})")
    if not actor_id:
        raise ValueError("actor_id must be a non-empty str; got ''")
    return check_utf8("actor_id", actor_id)


def validate_version(version: object, name: str = "version") -> int:
    """Return *version* if it is a positive ``int`` (``bool`` excluded); raise otherwise."""
    if type(version) is not int:
        if isinstance(version, bool) or not isinstance(version, int):
            raise TypeError(f"{name} must be a positive int; got {show(version)} ({type(version).__name__})")
        version = int(version)
    if version < 1:
        raise ValueError(f"{name} must be a positive int; got {show(version)}")
    return version


#: Event.at_version's default for *data*: keep the event's own.
_KEEP: Any = object()


class Event:
    """An immutable event: ``actor_id`` reached ``version`` through ``event_type``.

    Build one for the version you expect to be next and hand it to
    :meth:`EventStore.save_event`; the store accepts it only if that version is
    still free. Everything is validated at construction, so a bad event fails
    where it is made, not deep inside a store::

        Event(actor_id="order-7", event_type="ItemAdded", version=3, data={"sku": "A1"})

    ``id`` defaults to a fresh random hex string and ``timestamp`` to the
    current UTC time. ``data`` must be a JSON-serialisable mapping; it is kept
    as a read-only deep copy (:class:`FrozenData`), so nobody can change an
    event after it was stored.

    One rule for every store, checked here so that the stores cannot disagree:
    text (``actor_id``, ``event_type``, ``id``, data keys and values) must be
    encodable as UTF-8 (no lone surrogates); integers in ``data`` have at most
    :data:`MAX_DATA_INT_DIGITS` digits; ``data`` nests at most
    :data:`MAX_DATA_DEPTH` levels and must not contain itself. Anything else
    is a :class:`ValueError` naming the field.
    """

    __slots__ = ("id", "event_type", "actor_id", "version", "data", "timestamp")

    id: str
    event_type: str
    actor_id: str
    version: int
    data: FrozenData
    timestamp: datetime

    def __init__(
        self,
        *,
        actor_id: str,
        event_type: str,
        version: int,
        data: Mapping[str, Any] | None = None,
        id: str | None = None,  # noqa: A002 - mirrors the Go field name
        timestamp: datetime | None = None,
    ) -> None:
        if type(actor_id) is not str or not actor_id or not actor_id.isascii():
            actor_id = validate_actor_id(actor_id)
        _SET_ACTOR_ID(self, actor_id)
        if type(event_type) is not str or not event_type or not event_type.isascii():
            if not isinstance(event_type, str):
                raise TypeError(
                    f"event_type must be a non-empty str; got {show(event_type)} ({type(event_type).__name__})"
                )
            if not event_type:
                raise ValueError("event_type must be a non-empty str; got ''")
            check_utf8("event_type", event_type)
        _SET_EVENT_TYPE(self, event_type)
        if type(version) is not int or version < 1:
            version = validate_version(version)
        _SET_VERSION(self, version)
        _SET_DATA(self, _freeze_root(data))
        if id is None:
            id = new_event_id()
        elif not isinstance(id, str):
            raise TypeError(f"id must be a non-empty str; got {show(id)} ({type(id).__name__})")
        elif not id:
            raise ValueError("id must be a non-empty str; got ''")
        elif not id.isascii():
            check_utf8("id", id)
        _SET_ID(self, id)
        if timestamp is None:
            timestamp = datetime.now(UTC)
        elif not isinstance(timestamp, datetime):
            raise TypeError(f"timestamp must be a datetime; got {show(timestamp)} ({type(timestamp).__name__})")
        elif timestamp.tzinfo is None or timestamp.utcoffset() is None:
            raise ValueError(f"timestamp must be timezone-aware; got naive {show(timestamp)}")
        else:
            timestamp = timestamp.astimezone(UTC)
        _SET_TIMESTAMP(self, timestamp)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Event is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Event is immutable; cannot delete {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (self.id, self.event_type, self.actor_id, self.version, self.data, self.timestamp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Event(actor_id={self.actor_id!r}, event_type={self.event_type!r}, "
            f"version={self.version!r}, data={self.data!r}, id={self.id!r}, "
            f"timestamp={self.timestamp.isoformat()!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (self.actor_id, self.event_type, self.version, self.data.thaw(), self.id, self.timestamp)
        return (_rebuild_event, fields)

    def __copy__(self) -> Event:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Event:
        return self

    def same_as(self, other: Event) -> bool:
        """True if *other* is a re-send of this event: same id, actor and version."""
        return self.id == other.id and self.actor_id == other.actor_id and self.version == other.version

    def at_version(self, version: int, data: Mapping[str, Any] | None | object = _KEEP) -> Event:
        """This event at *version* (with new *data*, if given): same id, actor and type, a fresh timestamp.

        What a logical save builds for each attempt after its first: the same
        event (its idempotency key is the id) aimed at the version the store
        is at now. Only *version* and *data* are checked again; the fields
        kept were checked when this event was built::

            retry = event.at_version(conflict.current_version + 1)
        """
        if type(version) is not int or version < 1:
            version = validate_version(version)
        frozen = self.data if data is _KEEP else _freeze_root(data)
        event = object.__new__(Event)
        _SET_ACTOR_ID(event, self.actor_id)
        _SET_EVENT_TYPE(event, self.event_type)
        _SET_VERSION(event, version)
        _SET_DATA(event, frozen)
        _SET_ID(event, self.id)
        _SET_TIMESTAMP(event, datetime.now(UTC))
        return event

    def replace(self, **changes: Any) -> Event:
        """Return a copy with some fields changed (a new id unless ``id`` is given).

        The usual use is retrying at another version::

            event.replace(version=conflict.current_version + 1)
        """
        fields: dict[str, Any] = {
            "actor_id": self.actor_id,
            "event_type": self.event_type,
            "version": self.version,
            "data": self.data,
            "timestamp": self.timestamp,
        }
        fields.update(changes)
        return Event(**fields)


# Each field's slot setter, which writes past Event.__setattr__ (that refuses every change once built): quicker
# than object.__setattr__, which looks the field up again on every call.
_SET_ACTOR_ID = Event.actor_id.__set__  # type: ignore[attr-defined]
_SET_EVENT_TYPE = Event.event_type.__set__  # type: ignore[attr-defined]
_SET_VERSION = Event.version.__set__  # type: ignore[attr-defined]
_SET_DATA = Event.data.__set__  # type: ignore[attr-defined]
_SET_ID = Event.id.__set__  # type: ignore[attr-defined]
_SET_TIMESTAMP = Event.timestamp.__set__  # type: ignore[attr-defined]


def _rebuild_event(actor_id: str, event_type: str, version: int, data: dict[str, Any],
                   id: str, timestamp: datetime) -> Event:  # noqa: A002 - the field's name
    return Event(actor_id=actor_id, event_type=event_type, version=version, data=data, id=id, timestamp=timestamp)
