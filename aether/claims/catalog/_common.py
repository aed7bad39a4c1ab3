"""What the catalog's chapters share: the lab's scenarios, from :mod:`aether.experiment.scenarios`.

The stores (:data:`CLASSIC`, :data:`BUSY_SERVER`), their faults and
:class:`Decided` live in the experiment layer, where chapters and the pattern
map use them too; the catalog's modules import them from here by habit.
"""

from __future__ import annotations

from aether.experiment.scenarios import (
    BUSY_SERVER,
    CLASSIC,
    TIMEOUT,
    Decided,
    add_line,
    busy_outage,
    busy_slowdown,
    busy_timeouts,
    classic_outage,
    decided,
)

__all__ = ["BUSY_SERVER", "CLASSIC", "TIMEOUT", "Decided", "add_line", "busy_outage", "busy_slowdown",
           "busy_timeouts", "classic_outage", "decided"]
