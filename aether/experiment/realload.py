"""The open-loop experiment on a real PostgreSQL server: real callers, real clock, client-side timeouts.

Use :func:`run_load_real` to run the same open-loop experiment as
:func:`~aether.experiment.run_load` (callers arriving at a rate from a seeded
schedule, each performing one logical save through a retry pattern) against
a :class:`~aether.store.postgres.PostgresEventStore`, with the same tables in
the result. Each caller is a real thread with its own connection to the
server (the connection is part of what a caller costs); the socket is the
network, so no network model is added.

Every run is bounded:

* in count: a run whose peak rate times its duration exceeds ``max_callers``
  is refused before anything starts;
* in time: each caller has a client-side ``timeout`` from its arrival for its
  whole logical save, retries included (:data:`~aether.contracts.call_deadline`):
  a store call past it is not sent, one still running at it is cancelled on
  the server, and either raises :class:`~aether.errors.StoreTimeoutError`;
  each statement also has the server's ``statement_timeout``. So the run ends
  about ``duration + timeout`` after it starts, whatever the server does.

It sends traffic only to the store it is given: start a throwaway server with
:func:`~aether.store.pglocal.start_local_postgres` and give the run a store on
a schema of its own::

    with start_local_postgres() as server:
        store = PostgresEventStore(server.new_schema("load"))
        result = run_load_real(full_jitter, store=store, rate=40, duration=5, timeout=0.5)
        result.timeline()
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from aether.checks import check_int, check_seconds, show
from aether.contracts import Bindable, RunContext, deadline_scope, is_bindable, pattern_name
from aether.experiment.arrivals import Rate, check_rate
from aether.experiment.harness import run_load
from aether.experiment.result import RunResult
from aether.experiment.runners import accepts_rng

__all__ = ["MAX_CALLERS", "run_load_real"]

MAX_CALLERS = 2000
"""The default bound on the number of callers of one real run (each is a thread and a connection)."""


class _WithTimeout:
    """A pattern whose every logical save must be done *timeout* seconds (on its clock) after it starts."""

    def __init__(self, inner: Callable[..., Any], timeout: float, name: str) -> None:
        self._inner = inner
        self._timeout = timeout
        self._pass_rng = accepts_rng(inner)
        self.name = name

    def __call__(self, store: Any, actor_id: str, event_type: str, data: Any = None, /, *, clock: Any,
                 rng: Any = None) -> Any:
        with deadline_scope(clock.now() + self._timeout):
            if self._pass_rng:
                return self._inner(store, actor_id, event_type, data, clock=clock, rng=rng)
            return self._inner(store, actor_id, event_type, data, clock=clock)

    def close(self) -> None:
        """Close the inner bound pattern, if it has background work to finish."""
        close = getattr(self._inner, "close", None)
        if callable(close):
            close()


class _BindableWithTimeout:
    """A stateful pattern (breaker, budget, queue) whose bound callable gets the client-side timeout."""

    def __init__(self, inner: Bindable, timeout: float, name: str) -> None:
        self._inner = inner
        self._timeout = timeout
        self.name = name

    def bind(self, ctx: RunContext) -> Callable[..., Any]:
        return _WithTimeout(self._inner.bind(ctx), self._timeout, self.name)


def run_load_real(
    pattern: Any,
    *,
    store: Any,
    rate: float | Rate,
    duration: float,
    timeout: float = 1.0,
    statement_timeout: float | None = None,
    actors: int = 100,
    arrivals: str = "poisson",
    seed: int = 0,
    max_callers: int = MAX_CALLERS,
    name: str | None = None,
    verify: bool = True,
) -> RunResult:
    """Run the open-loop experiment against a real PostgreSQL store; returns :func:`run_load`'s result.

    * ``store``: a :class:`~aether.store.postgres.PostgresEventStore`; the run
      uses a copy of it that honours the callers' deadlines (on
      :func:`time.monotonic`, the real clock) and has the given ``statement_timeout``;
    * ``rate``, ``duration``, ``actors``, ``arrivals``, ``seed``, ``name``,
      ``verify``: as for :func:`~aether.experiment.run_load` (the same seed
      gives the same arrival schedule as the simulated run);
    * ``timeout``: each caller's client-side timeout, from its arrival, for its
      whole logical save (retries included);
    * ``statement_timeout``: the server's limit on one statement (default:
      the store's own);
    * ``max_callers``: the most callers the run may expect (peak rate times
      duration); more is a :class:`ValueError` before anything runs.
    """
    from aether.store.postgres import PostgresEventStore

    if not isinstance(store, PostgresEventStore):
        raise TypeError(f"store must be a PostgresEventStore; got {show(store)} ({type(store).__name__})")
    rate = check_rate(rate)
    duration = check_seconds("duration", duration, positive=True)
    timeout = check_seconds("timeout", timeout, positive=True, maximum=3600.0)
    max_callers = check_int("max_callers", max_callers, 1, 100_000)
    peak = rate if isinstance(rate, (int, float)) else rate.peak
    expected = peak * duration
    if expected > max_callers:
        raise ValueError(
            f"rate * duration must be at most max_callers={max_callers} callers (each is a thread and a "
            f"connection); got {expected:g}: lower the rate or the duration, or raise max_callers"
        )
    changes: dict[str, Any] = {"deadline_clock": time.monotonic}
    if statement_timeout is not None:
        changes["statement_timeout"] = statement_timeout
    real_store = store.replace(**changes)
    label = name or pattern_name(pattern)
    if is_bindable(pattern) and not inspect.isfunction(pattern):
        wrapped: Any = _BindableWithTimeout(pattern, timeout, label)
    elif callable(pattern):
        wrapped = _WithTimeout(pattern, timeout, label)
    else:
        raise TypeError(f"pattern must be a pattern callable or a Bindable; got {show(pattern)}")
    return run_load(wrapped, rate=rate, duration=duration, actors=actors, arrivals=arrivals, network=None,
                    seed=seed, clock="real", store=real_store, name=label, verify=verify)
