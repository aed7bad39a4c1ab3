"""Parameter checks shared by every layer of the package.

One rule everywhere: the wrong *type* is a :class:`TypeError`, the wrong
*value* a :class:`ValueError`, and the message names the parameter and the
value it got. Every public entry point checks its parameters with these
before it touches a store, so a bad argument never half-runs an experiment.

This module imports nothing else of :mod:`aether`, so any layer may use it.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Collection
from typing import TypeVar

__all__ = [
    "MAX_SECONDS",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_instance",
    "check_int",
    "check_items",
    "check_methods",
    "check_number",
    "check_rng",
    "check_seconds",
    "check_text",
    "show",
]

T = TypeVar("T")

#: The longest duration any parameter accepts: about 31.7 years. Longer waits are
#: typos (``1e300``), and ``time.sleep`` or a lock timeout would overflow on them.
MAX_SECONDS = 1e9


def _type_name(value: object) -> str:
    return type(value).__name__


#: The longest text :func:`show` gives for a value: every message stays short, whatever it shows.
MAX_SHOWN = 80


def show(value: object) -> str:
    """``repr(value)`` for an error message, at most :data:`MAX_SHOWN` characters.

    A long repr (a 400-digit int, a huge list) is shortened in the middle; a
    repr that raises, or is not a ``str``, is replaced by the type's name, so
    a broken ``__repr__`` never hides the error being reported. A huge
    container is not rendered whole first: only its opening items are shown.
    """
    try:
        if isinstance(value, (list, tuple, set, frozenset, dict)) and len(value) > 64:
            text = f"<{_type_name(value)} of {len(value):_} items>"
        else:
            text = repr(value)
        if not isinstance(text, str):
            raise TypeError("__repr__ returned a non-string")
    except Exception:  # noqa: BLE001 - a repr that fails must not hide the real error
        text = f"<{_type_name(value)} object (its repr failed)>"
    return text if len(text) <= MAX_SHOWN else f"{text[:38]}...{text[-38:]}"


_show = show


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """*value* as an ``int`` if it is a whole number in ``[minimum, maximum]``.

    NumPy integers are accepted (``operator.index``); ``bool`` and floats,
    even ``2.0``, are refused with a :class:`TypeError`.
    """
    number: int | None
    if isinstance(value, bool):
        number = None
    else:
        try:
            number = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            number = None
    if number is None:
        expected = f"an int{_range_text(minimum, maximum)}"
        raise TypeError(f"{name} must be {expected}; got {_show(value)} ({_type_name(value)})")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be an int{_range_text(minimum, maximum)}; got {_show(value)}")
    return number


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" between {minimum:,} and {maximum:,}".replace(",", "_")
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    unit: str = "",
) -> float:
    """*value* as a finite ``float`` if it is a real number in range.

    ``minimum`` / ``maximum`` are inclusive bounds, ``above`` an exclusive
    lower bound (``above=0``: strictly positive). NaN, infinities and numbers
    too large for a float (``10**400``) are a :class:`ValueError`; ``bool``
    and non-numbers a :class:`TypeError`. *unit* (``"seconds"``) only words
    the message.
    """
    what = f"a number of {unit}" if unit else "a number"
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {what}; got {_show(value)} ({_type_name(value)})")
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        number = math.inf
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {what}; got {_show(value)} ({_type_name(value)})") from None
    unit_text = f" of {unit}" if unit else ""
    if maximum is not None and math.isfinite(number) and number > maximum:
        raise ValueError(f"{name} must be at most {maximum:g}{' ' + unit if unit else ''}; got {_show(value)}")
    low = [f"> {above:g}"] if above is not None else []
    low += [f">= {minimum:g}"] if minimum is not None else []
    if not (math.isfinite(number) and (above is None or number > above) and (minimum is None or number >= minimum)):
        bound = (" " + " and ".join(low)) if low else ""
        raise ValueError(f"{name} must be a finite number{unit_text}{bound}; got {_show(value)}")
    return number


_BIG = sys.float_info.max  # the largest finite float


def check_seconds(name: str, value: object, *, positive: bool = False, maximum: float = MAX_SECONDS) -> float:
    """*value* as a float of seconds: finite, ``>= 0`` (``> 0`` with *positive*), at most *maximum*.

    The one check behind every duration in the package: sleeps, timeouts,
    backoff delays, service and network delays and fault windows.
    """
    if value.__class__ is float and (0.0 < value if positive else 0.0 <= value) and value <= maximum and value <= _BIG:
        return value  # the common case, as check_number would return it (a NaN or an infinity fails the test)
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds; got {_show(value)} (bool)")
    if positive:
        return check_number(name, value, above=0.0, maximum=maximum, unit="seconds")
    return check_number(name, value, minimum=0.0, maximum=maximum, unit="seconds")


def check_bool(name: str, value: object) -> bool:
    """*value* if it is a ``bool`` (``0``, ``1`` and ``"no"`` are refused)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {_show(value)} ({_type_name(value)})")
    return value


def check_text(name: str, value: object, *, empty: bool = False) -> str:
    """*value* if it is a ``str`` (non-empty unless *empty*)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {_show(value)} ({_type_name(value)})")
    if not empty and not value:
        raise ValueError(f"{name} must be a non-empty str; got {_show(value)}")
    return value


def check_choice(name: str, value: object, choices: Collection[T]) -> T:
    """*value* if it is one of *choices*: a :class:`ValueError` listing them otherwise.

    When every choice is a ``str``, a value that is not one is the wrong
    type: a :class:`TypeError` (``jitter=2`` is not a misspelt name).
    """
    if value.__class__ is str:
        try:
            if value in choices:
                return value  # type: ignore[return-value]
        except TypeError:  # an unhashable choice asked of a set: the full check words it
            pass
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str) and choices and all(isinstance(c, str) for c in choices):
        raise TypeError(f"{name} must be one of {listed}; got {_show(value)} ({_type_name(value)})")
    try:
        ok = value in choices
    except TypeError:  # an unhashable value asked of a set
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {listed}; got {_show(value)}")
    return value  # type: ignore[return-value]


def check_callable(name: str, value: T, what: str = "a callable", *, classes: bool = True) -> T:
    """*value* if it is callable; a class too unless *classes* is false (a class is callable,
    but where a function of a result is wanted its instances are not answers)."""
    if not classes:
        _refuse_class(name, value, what)
    if not callable(value):
        raise TypeError(f"{name} must be {what}; got {_show(value)} ({_type_name(value)})")
    return value


def _refuse_class(name: str, value: object, what: str) -> None:
    """A class where an instance is expected (``store=InMemoryEventStore``) is a :class:`TypeError`."""
    if isinstance(value, type):
        raise TypeError(f"{name} must be {what}, an instance, not the class itself; got {show(value)} "
                        f"(did you mean {value.__name__}()?)")


def check_rng(name: str, value: T) -> T:
    """*value* if it has the ``random.Random`` methods the patterns draw from (a class is refused)."""
    _refuse_class(name, value, "a random.Random")
    for method in ("random", "uniform", "expovariate"):
        if not callable(getattr(value, method, None)):
            raise TypeError(f"{name} must be a random.Random (missing {method}()); got {_show(value)} "
                            f"({_type_name(value)})")
    return value


def check_methods(name: str, value: T, methods: Collection[str], what: str) -> T:
    """*value* if it is an instance with every one of *methods* as a callable attribute.

    A class is refused even though its methods are callable attributes:
    ``store=InMemoryEventStore`` (the class) would otherwise pass here and
    fail at first use, or worse, be called with the wrong ``self``.
    """
    _refuse_class(name, value, what)
    for method in methods:
        if not callable(getattr(value, method, None)):
            raise TypeError(f"{name} must be {what} (missing {method}()); got {_show(value)} ({_type_name(value)})")
    return value


def check_instance(name: str, value: object, kind: type[T] | tuple[type, ...], what: str) -> T:
    """*value* if it is an instance of *kind* (*what* words the message: ``"a NetworkModel"``).

    The class itself is refused with a hint (``model=NetworkModel`` for ``NetworkModel()``).
    """
    if not isinstance(value, kind):
        _refuse_class(name, value, what)
        raise TypeError(f"{name} must be {what}; got {show(value)} ({_type_name(value)})")
    return value  # type: ignore[return-value]


def check_items(name: str, value: object, what: str = "a list", *, empty: bool = True) -> list[object]:
    """The items of *value* as a new list, if it is a collection of items (not a ``str`` or ``bytes``).

    A ``str``, ``bytes``, a class, a mapping's keys taken by accident and anything not
    iterable are a :class:`TypeError`; an empty collection is a :class:`ValueError`
    unless *empty*. Check each item afterwards under the name ``f"{name}[{i}]"``.
    """
    if isinstance(value, (str, bytes, bytearray, type)) or not _iterable(value):
        raise TypeError(f"{name} must be {what}; got {show(value)} ({_type_name(value)})")
    items = list(value)  # type: ignore[call-overload]
    if not empty and not items:
        raise ValueError(f"{name} must not be empty; got {show(value)}")
    return items


def _iterable(value: object) -> bool:
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True
