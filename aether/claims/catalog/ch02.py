"""Chapter 02, the conflict's distance signal: what the store's conflicts really say, and what a pattern can do with it.

The runs save *commands*: :func:`add_item` re-reads the order and refuses once it is
cancelled, and :func:`commanded` hands it to any pattern in place of the experiment's
blind data, so the claims measure the command retry chapter 00 teaches.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from aether.events import Event

__all__ = ["CLAIMS", "add_item", "commanded"]


def add_item(events: Sequence[Event]) -> dict[str, int] | None:
    """Add a line to an order, unless the order was cancelled: ``None`` (refuse) then.

    A command, not blind data: it depends on the state it reads, so a writer that
    lost a race must read again and decide again.
    """
    if any(event.event_type == "OrderCancelled" for event in events):
        return None
    return {"line": len(events) + 1}


def _takes_rng(pattern: Callable[..., Any]) -> bool:
    try:
        return "rng" in inspect.signature(pattern).parameters
    except (TypeError, ValueError):
        return False


def _save_command(pattern: Callable[..., Any], decide: Callable[[Sequence[Event]], Any], store: Any, actor_id: str,
                  event_type: str, data: Any = None, *, clock: Any, rng: Any = None) -> Any:
    if rng is not None and _takes_rng(pattern):
        return pattern(store, actor_id, event_type, decide, clock=clock, rng=rng)
    return pattern(store, actor_id, event_type, decide, clock=clock)


def commanded(pattern: Callable[..., Any], decide: Callable[[Sequence[Event]], Any] = add_item) -> Any:
    """*pattern* saving the command *decide* (default :func:`add_item`) instead of the experiment's blind data.

    Use it to run :func:`~aether.experiment.run_contention` or a claim's arm with
    the command retry: every attempt reads the actor's events and decides again.
    The result is a picklable partial, so sweeps and ``--jobs`` can use it.
    """
    if not callable(pattern):
        raise TypeError(f"pattern must be a retry pattern (a callable); got {pattern!r}")
    if not callable(decide):
        raise TypeError(f"decide must be a decision decide(events) -> data | None; got {decide!r}")
    return functools.partial(_save_command, pattern, decide)


CLAIMS: list[Any] = []
