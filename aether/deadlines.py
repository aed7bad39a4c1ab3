"""The current logical save's deadline, shared by patterns and the stores that honour it.

A pattern with a deadline (``deadline=`` on every pattern) runs its store calls
inside :func:`deadline_scope`; a store that models or talks to a network
(the experiment's :class:`~aether.experiment.network.NetworkStore`, the
PostgreSQL store) reads :data:`call_deadline` to cap the call's timeout at
the time left, and a store queue drops a call whose caller has already gone.
Each thread and each simulated writer (a greenlet) has its own value.

This module sits below the stores and the patterns, so both can use it
without either importing the other; :mod:`aether.contracts` re-exports it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar

from aether.checks import check_number

__all__ = ["call_deadline", "deadline_scope"]

#: The clock time (``clock.now()`` scale) by which the current logical save must be done, or
#: ``None``. Patterns set it with :func:`deadline_scope`; stores that model a network read it.
call_deadline: ContextVar[float | None] = ContextVar("aether_call_deadline", default=None)


def deadline_scope(deadline_at: float | None) -> contextlib.AbstractContextManager[None]:
    """Make *deadline_at* (a clock time, or ``None``) the current save's deadline inside the block.

    A pattern with a deadline wraps its store calls in this, so a networked
    store can cap the call's timeout at the time left and a store queue can
    drop the call if its caller is gone before service starts. Nested scopes
    keep the earlier of the two deadlines. *deadline_at* is checked here, when
    the scope is made, not when the block is entered.
    """
    if deadline_at is not None and not (type(deadline_at) is float and -math.inf < deadline_at < math.inf):
        # a clock reading: any finite number, negative included (clocks may start anywhere)
        deadline_at = check_number("deadline_at", deadline_at)
    return _deadline_scope(deadline_at)


@contextlib.contextmanager
def _deadline_scope(deadline_at: float | None) -> Iterator[None]:
    outer = call_deadline.get()
    if deadline_at is None or (outer is not None and outer <= deadline_at):
        deadline_at = outer
    token = call_deadline.set(deadline_at)
    try:
        yield
    finally:
        call_deadline.reset(token)
