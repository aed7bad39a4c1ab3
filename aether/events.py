"""The :class:`Event` record: one fact about one actor, at one version.

An event store keeps, for every actor, a gapless sequence of events numbered
1, 2, 3, ...  The version is what optimistic concurrency checks: a writer that
read version *n* may only append version *n + 1*.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = ["Event", "FrozenData"]


class FrozenData(Mapping[str, Any]):
    """A read-only, hashable copy of an event's JSON data.

    Mappings become :class:`FrozenData`, lists and tuples become tuples, and
    scalars are kept. It compares equal to a plain ``dict`` with the same
    top-level items, and :meth:`thaw` gives back ordinary dicts and lists.

    You rarely build one yourself: :class:`Event` freezes its ``data``. When
    you do, ``FrozenData({...})`` validates and deep-copies its argument, so
    changing the original afterwards cannot change the frozen copy.
    """

    __slots__ = ("_items", "_hash")

    _items: dict[str, Any]
    _hash: int | None

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        frozen = _freeze_root(items)
        self._items = frozen._items
        self._hash = frozen._hash

    @classmethod
    def _wrap(cls, items: dict[str, Any]) -> FrozenData:
        """Wrap *items*, already frozen and owned by the caller, without copying."""
        self = cls.__new__(cls)
        self._items = items
        self._hash = None
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
    raise TypeError(f"not JSON-serialisable: {value!r}")


# One encoder for every event: building a JSONEncoder per call costs more than the encoding itself.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_encode_nested)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_thaw(v) for v in value]
    return value


_EMPTY = FrozenData._wrap({})


def _freeze(value: Any, path: str) -> Any:
    # bool is an int subclass and is valid JSON; NaN and infinities are not.
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Event.data{path} must be JSON-serialisable; got non-finite float {value!r}")
        return value
    if isinstance(value, FrozenData):
        return value
    if isinstance(value, Mapping):
        items: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"Event.data{path} keys must be str; got {key!r} ({type(key).__name__})")
            items[key] = _freeze(item, f"{path}[{key!r}]")
        return FrozenData._wrap(items)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item, f"{path}[{i}]") for i, item in enumerate(value))
    raise TypeError(
        f"Event.data{path} must be JSON-serialisable; got {value!r} ({type(value).__name__})"
    )


def _flat_scalars(data: dict[Any, Any]) -> bool:
    """True if *data* maps str keys to JSON scalars only (the common case, frozen by a plain copy)."""
    for key, value in data.items():
        kind = type(value)
        if type(key) is not str or not (
            kind is str or kind is int or value is None or kind is bool or (kind is float and math.isfinite(value))
        ):
            return False
    return True


def _freeze_root(data: Any) -> FrozenData:
    if data is None:
        return _EMPTY
    if isinstance(data, FrozenData):
        return data
    if type(data) is dict and _flat_scalars(data):
        return FrozenData._wrap(dict(data))
    if not isinstance(data, Mapping):
        raise TypeError(f"Event.data must be a mapping; got {data!r} ({type(data).__name__})")
    frozen = _freeze(data, "")
    assert isinstance(frozen, FrozenData)
    return frozen


def _new_id() -> str:
    # The hex form of a random (version 4) UUID, built without the uuid module's overhead.
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def validate_actor_id(actor_id: object) -> str:
    """Return *actor_id* if it is a non-empty ``str``; raise otherwise."""
    if not isinstance(actor_id, str):
        raise TypeError(f"actor_id must be a non-empty str; got {actor_id!r} ({type(actor_id).__name__})")
    if not actor_id:
        raise ValueError("actor_id must be a non-empty str; got ''")
    return actor_id


def validate_version(version: object, name: str = "version") -> int:
    """Return *version* if it is a positive ``int`` (``bool`` excluded); raise otherwise."""
    if type(version) is not int:
        if isinstance(version, bool) or not isinstance(version, int):
            raise TypeError(f"{name} must be a positive int; got {version!r} ({type(version).__name__})")
        version = int(version)
    if version < 1:
        raise ValueError(f"{name} must be a positive int; got {version!r}")
    return version


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
        setattr_ = object.__setattr__
        if type(actor_id) is not str or not actor_id:
            actor_id = validate_actor_id(actor_id)
        setattr_(self, "actor_id", actor_id)
        if type(event_type) is not str or not event_type:
            if not isinstance(event_type, str):
                raise TypeError(
                    f"event_type must be a non-empty str; got {event_type!r} ({type(event_type).__name__})"
                )
            if not event_type:
                raise ValueError("event_type must be a non-empty str; got ''")
        setattr_(self, "event_type", event_type)
        if type(version) is not int or version < 1:
            version = validate_version(version)
        setattr_(self, "version", version)
        setattr_(self, "data", _freeze_root(data))
        if id is None:
            id = _new_id()
        elif not isinstance(id, str):
            raise TypeError(f"id must be a non-empty str; got {id!r} ({type(id).__name__})")
        elif not id:
            raise ValueError("id must be a non-empty str; got ''")
        setattr_(self, "id", id)
        if timestamp is None:
            timestamp = datetime.now(timezone.utc)
        elif not isinstance(timestamp, datetime):
            raise TypeError(f"timestamp must be a datetime; got {timestamp!r} ({type(timestamp).__name__})")
        elif timestamp.tzinfo is None or timestamp.utcoffset() is None:
            raise ValueError(f"timestamp must be timezone-aware; got naive {timestamp!r}")
        else:
            timestamp = timestamp.astimezone(timezone.utc)
        setattr_(self, "timestamp", timestamp)

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
        return (_rebuild_event, (self.actor_id, self.event_type, self.version, self.data.thaw(), self.id, self.timestamp))

    def __copy__(self) -> Event:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Event:
        return self

    def same_as(self, other: Event) -> bool:
        """True if *other* is a re-send of this event: same id, actor and version."""
        return self.id == other.id and self.actor_id == other.actor_id and self.version == other.version

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


def _rebuild_event(actor_id: str, event_type: str, version: int, data: dict[str, Any], id: str, timestamp: datetime) -> Event:  # noqa: A002
    return Event(actor_id=actor_id, event_type=event_type, version=version, data=data, id=id, timestamp=timestamp)
