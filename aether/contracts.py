"""What retry patterns and the experiment agree on, so that neither imports the other.

Patterns (:mod:`aether.patterns`) and the contention harness
(:mod:`aether.experiment`) both import this module; patterns never import the
experiment. It holds:

* :class:`Pattern`: the shape of a retry pattern, a callable that performs one
  logical save;
* :class:`Deferred`: what a pattern returns when it accepted a save for later
  (a retry queue's ticket);
* :class:`Bindable` and :class:`RunContext`: a pattern with state shared by
  all writers of a client (a breaker, a budget, a queue) binds to a run once
  and gets the run's clock, a seeded generator and store views for
  background work;
* :func:`pattern_name`: the label a pattern goes by in tables and legends;
* :data:`call_deadline` and :func:`deadline_scope`: the clock time by which
  the current logical save must be done, set by a pattern that has a deadline
  and read by the experiment's network (the call's timeout) and store queue
  (a call whose caller has gone is dropped). Each thread and each simulated
  writer (a greenlet) has its own value.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aether.checks import show
from aether.clock import TaskClock
from aether.deadlines import call_deadline, deadline_scope
from aether.events import Event

if TYPE_CHECKING:
    from aether.store.base import EventStore

__all__ = ["Bindable", "Deferred", "Pattern", "RunContext", "call_deadline", "deadline_scope", "is_bindable",
           "pattern_name"]




@runtime_checkable
class Pattern(Protocol):
    """A retry pattern: ``pattern(store, actor_id, event_type, data, *, clock[, rng])``.

    It performs one logical save: read the actor's latest version, build the
    next event, save it, and on a conflict decide, wait on *clock* and repeat.
    It returns the stored :class:`~aether.events.Event` (or a
    :class:`Deferred` ticket for work accepted for later) and raises when it
    gives up. Patterns that draw random numbers take a keyword ``rng``
    (:class:`random.Random`); the experiment passes a seeded one.
    """

    def __call__(self, store: EventStore, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None,
                 /, *, clock: Any = ...) -> Event | Deferred: ...


@runtime_checkable
class Deferred(Protocol):
    """What a pattern returns when it accepted a save for later (a retry queue's ticket).

    The experiment records the save as accepted at once, and after the run
    reads how it ended: ``outcome`` (``"committed"`` or e.g. ``"dead_letter"``),
    ``event`` (the stored event), ``settled_at`` (clock time) and ``attempts``.
    """

    @property
    def outcome(self) -> str: ...

    @property
    def event(self) -> Event | None: ...

    @property
    def settled_at(self) -> float | None: ...

    @property
    def attempts(self) -> int: ...


@dataclass
class RunContext:
    """What a stateful pattern gets once per run (see :class:`Bindable`).

    ``clock`` is the run's clock (it can ``spawn`` background tasks), ``rng``
    a seeded generator for shared state, ``seed`` the run's seed, and
    :meth:`store_for` gives a store view for a background participant (in an
    experiment: networked and recorded, with a negative writer number).
    """

    clock: TaskClock
    rng: random.Random
    seed: int
    _make_view: Callable[[int], Any]
    _next_participant: int = -1

    def store_for(self) -> Any:
        """A new store view for background work such as a queue worker."""
        view = self._make_view(self._next_participant)
        self._next_participant -= 1
        return view


@runtime_checkable
class Bindable(Protocol):
    """A pattern with state shared by all writers of a client (breaker, budget, queue).

    ``bind(ctx)`` is called once per run (per process in real mode) and
    returns the callable the writers use. If that callable has a ``close()``
    method, it is called after every writer has finished, in clock time,
    and must return once background work is done (a queue drains).
    """

    def bind(self, ctx: RunContext) -> Callable[..., Any]: ...


def is_bindable(pattern: object) -> bool:
    """Whether *pattern* is a :class:`Bindable`: it has a callable ``bind``.

    What ``isinstance(pattern, Bindable)`` answers (a ``bind`` that is not
    callable is refused here), without the cost of a runtime protocol check,
    which a sweep would pay several times per run.
    """
    return callable(getattr(pattern, "bind", None))


def pattern_name(pattern: object) -> str:
    """A readable name for a pattern: its ``name`` attribute, or the function's name.

    A :func:`functools.partial` shows its keywords, so
    ``partial(immediate_retry, max_attempts=3)`` reads
    ``immediate_retry(max_attempts=3)``; functions among them show by name,
    never by memory address, so labels are the same on every machine.
    A value that is neither callable nor a :class:`Bindable` is a :class:`TypeError`.
    """
    if not callable(pattern) and not is_bindable(pattern):
        raise TypeError(f"pattern must be a pattern (a callable or a Bindable); got {show(pattern)} "
                        f"({type(pattern).__name__})")
    name = getattr(pattern, "name", None)
    if isinstance(name, str) and name:
        return name
    if isinstance(pattern, functools.partial):
        inner = pattern_name(pattern.func)
        args = ", ".join(f"{k}={_label_value(v)}" for k, v in pattern.keywords.items())
        return f"{inner}({args})" if args else inner
    return getattr(pattern, "__name__", type(pattern).__name__)


def _label_value(value: object) -> str:
    # A function's repr carries its memory address, which differs on every run and machine.
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", type(value).__name__)
    return repr(value)
