"""The base of a pattern whose state every writer of a client shares: settings, bind, pickling.

A circuit breaker, a retry budget and a client throttle only work when every
writer of a client asks the *same* object. :class:`SharedStatePolicy` is the
one way the lab builds such a pattern: a frozen dataclass of settings that an
experiment passes like a pattern; ``bind(ctx)`` makes one fresh state object
per run on the run's clock, keeps it (so its counters and transitions can be
read afterwards) and returns the writers' callable with the state bound in.
A pickled copy, sent to a worker process, carries the settings only.

Every shared object answers the same question with the same verb: ``allow``
("may this writer send / retry now?"): :meth:`CircuitBreaker.allow`,
:meth:`RetryBudget.allow`, :meth:`ClientThrottle.allow`.

A retry queue is shared state too (:class:`~aether.patterns.queue.QueuedWrites`):
its state needs the run's store, so it overrides :meth:`~SharedStatePolicy.new_run_state`,
:meth:`~SharedStatePolicy.writer` (the queue itself is the writers' pattern)
and :meth:`~SharedStatePolicy.check_settings`.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from aether.checks import check_instance, check_seconds, check_text
from aether.clock import Clock
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, check_backoff, check_count

if TYPE_CHECKING:
    from aether.contracts import RunContext

__all__ = ["SharedStatePolicy"]


class SharedStatePolicy:
    """Settings for a retry pattern with one state object shared by all writers of a run.

    A subclass is a frozen dataclass with the fields ``max_attempts``,
    ``base_delay``, ``max_delay``, ``name`` and ``deadline`` (each save's
    budget in seconds, ``None``: none), a list field named by
    :attr:`states_field` (``breakers``, ``budgets``, ...) that keeps each
    run's state, and says:

    * :attr:`pattern`: the retry function (a ``staticmethod``);
    * :attr:`state_keyword`: the keyword that function takes the state under;
    * :attr:`state_type`: the class of the state (a caller that passes the
      list of states must pass a list of these);
    * :meth:`new_state`: a fresh state object on a clock (and generator).

    Checking the settings happens once, when the policy is made, by building
    a throw-away state (:meth:`check_settings`): a bad setting fails where it
    is written.
    """

    pattern: ClassVar[Callable[..., Event]]
    state_keyword: ClassVar[str]
    states_field: ClassVar[str]
    state_type: ClassVar[type]

    name: str
    max_attempts: int
    base_delay: float
    max_delay: float
    deadline: float | None

    def __post_init__(self) -> None:
        check_text("name", self.name)
        states = getattr(self, self.states_field)
        what = f"a {self.state_type.__name__}"
        check_instance(self.states_field, states, list, f"a list of {what} (usually left out)")
        for i, state in enumerate(states):
            check_instance(f"{self.states_field}[{i}]", state, self.state_type, what)
        check_count("max_attempts", self.max_attempts)
        check_backoff(self.base_delay, self.max_delay)
        if self.deadline is not None:
            check_seconds("deadline", self.deadline, positive=True)
        self.check_settings()

    def check_settings(self) -> None:
        """Check the state's own settings now, not at the first run: build a throw-away state."""
        self.new_state(REAL_CLOCK, None)

    def __getstate__(self) -> dict[str, object]:
        """Pickle the settings only: a copy sent to another process has no runs yet."""
        return {**self.__dict__, self.states_field: []}

    def new_state(self, clock: Clock, rng: random.Random | None) -> Any:
        """A fresh shared state object with these settings on *clock* (drawing from *rng*)."""
        raise NotImplementedError

    def retry_settings(self) -> dict[str, Any]:
        """The keywords the retry function gets besides the state (``deadline`` only if set)."""
        settings: dict[str, Any] = {"max_attempts": self.max_attempts,
                                    "base_delay": self.base_delay, "max_delay": self.max_delay}
        if self.deadline is not None:
            settings["deadline"] = self.deadline
        return settings

    def new_run_state(self, ctx: RunContext) -> Any:
        """The state of one run: :meth:`new_state` on the run's clock and generator."""
        return self.new_state(ctx.clock, ctx.rng)

    def writer(self, state: Any) -> Callable[..., Any]:
        """The writers' callable on *state*: the retry function, state and settings bound."""
        keywords = {self.state_keyword: state, **self.retry_settings()}
        return functools.partial(type(self).pattern, **keywords)

    def bind(self, ctx: RunContext) -> Callable[..., Any]:
        """The writers' callable for one run: the pattern on a new state shared by all of them."""
        state = self.new_run_state(ctx)
        getattr(self, self.states_field).append(state)
        return self.writer(state)
