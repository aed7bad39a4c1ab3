"""Conflict-detailed retry: read each conflict, keep its history, and stop when retrying is hopeless.

A :class:`~aether.errors.VersionConflictError` says where the store is (``current_version``),
so this pattern retries at ``current_version + 1`` directly and skips the store read that
:func:`~aether.patterns.simple.simple_retry` makes before every retry. It logs every
conflict with structured fields and keeps a :class:`ConflictRecord` per conflict; from that
record a :class:`ThrashingPolicy` recognises thrashing (losing to something that does not
progress, or to a gap too wide to close) and the pattern stops early instead of spending
its remaining attempts. Use it when you need to see why saves fail, or when a stuck
competitor is possible; the risk is a false verdict from a store whose conflicts report
stale versions, which the default thresholds tolerate once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, capped_exponential, check_backoff, check_count, next_event
from aether.store.base import EventStore

__all__ = [
    "DEFAULT_THRASHING_POLICY",
    "ConflictHistoryError",
    "ConflictRecord",
    "ThrashingError",
    "ThrashingKind",
    "ThrashingPolicy",
    "ThrashingVerdict",
    "conflict_detailed_retry",
]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())  # a library logs; the application decides what is shown

ThrashingKind = Literal["stuck", "no_progress", "hopeless"]


@dataclass(frozen=True)
class ConflictRecord:
    """One lost save: which *attempt* (1-based), at what clock *time*, the versions and the *delay* that followed.

    ``attempted`` and ``current`` are the conflict's versions, ``distance``
    the commits by others since our read, and ``delay`` the seconds slept
    before the next attempt (``0.0`` when the pattern stopped there).
    """

    attempt: int
    time: float
    attempted: int
    current: int
    distance: int
    delay: float = 0.0


@dataclass(frozen=True)
class ThrashingVerdict:
    """Why retrying is pointless: the *kind*, a readable *reason*, and the conflicts that show it."""

    kind: ThrashingKind
    reason: str
    actor_id: str
    history: tuple[ConflictRecord, ...]


class ConflictHistoryError(RetriesExhaustedError):
    """:class:`~aether.errors.RetriesExhaustedError` that carries the ``history`` of conflicts (ConflictRecords)."""

    def __init__(self, actor_id: str, attempts: int, reason: str = "retry limit reached",
                 history: Sequence[ConflictRecord] = ()) -> None:
        super().__init__(actor_id, attempts, reason)
        self.history: tuple[ConflictRecord, ...] = tuple(history)


class ThrashingError(ConflictHistoryError):
    """The pattern stopped early because retrying was hopeless; ``verdict`` is the :data:`ThrashingKind`."""

    def __init__(self, actor_id: str, attempts: int, reason: str = "thrashing",
                 history: Sequence[ConflictRecord] = (), verdict: str = "thrashing") -> None:
        super().__init__(actor_id, attempts, reason, history)
        self.verdict = verdict


@dataclass(frozen=True)
class ThrashingPolicy:
    """When :func:`conflict_detailed_retry` calls retrying hopeless. Checked after every conflict.

    Retrying at ``current + 1``, a lost save on a correct store proves that
    someone committed, so the store moves at least one version per conflict.
    Conflicts that break this rule are not contention:

    * ``"stuck"``: the same ``current`` version in ``stuck_after`` (3) consecutive
      conflicts: something holds the next version without committing it;
    * ``"no_progress"``: over the last ``no_progress_window`` (4) conflicts the
      store moved by at most ``no_progress_versions`` (1) versions, where
      contention would have moved it by at least 3;
    * ``"hopeless"``: a conflict's distance is at least ``give_up_distance``
      (default ``None``: never), so many commits that we are unlikely to win.

    The defaults leave room for one stale ``current`` report before a verdict.
    """

    stuck_after: int = 3
    no_progress_window: int = 4
    no_progress_versions: int = 1
    give_up_distance: int | None = None

    def __post_init__(self) -> None:
        check_count("stuck_after", self.stuck_after, minimum=2)
        check_count("no_progress_window", self.no_progress_window, minimum=2)
        check_count("no_progress_versions", self.no_progress_versions, minimum=0)
        if self.give_up_distance is not None:
            check_count("give_up_distance", self.give_up_distance)

    def judge(self, actor_id: str, history: Sequence[ConflictRecord]) -> ThrashingVerdict | None:
        """Return a verdict if *history* (oldest first) shows thrashing, else ``None``."""
        if not history:
            return None
        found = self._hopeless(history) or self._stuck(history) or self._no_progress(history)
        if found is None:
            return None
        kind, reason = found
        return ThrashingVerdict(kind, reason, actor_id, tuple(history))

    def _hopeless(self, history: Sequence[ConflictRecord]) -> tuple[ThrashingKind, str] | None:
        last = history[-1]
        if self.give_up_distance is None or last.distance < self.give_up_distance:
            return None
        return "hopeless", f"{last.distance} commits since our read (give_up_distance={self.give_up_distance})"

    def _stuck(self, history: Sequence[ConflictRecord]) -> tuple[ThrashingKind, str] | None:
        recent = {record.current for record in history[-self.stuck_after:]}
        if len(history) < self.stuck_after or len(recent) != 1:
            return None
        current = history[-1].current
        return "stuck", f"current version {current} in {self.stuck_after} consecutive conflicts; version {current + 1} is held"

    def _no_progress(self, history: Sequence[ConflictRecord]) -> tuple[ThrashingKind, str] | None:
        window = history[-self.no_progress_window:]
        moved = window[-1].current - window[0].current
        if len(window) < self.no_progress_window or moved > self.no_progress_versions:
            return None
        return "no_progress", f"the store moved {moved} version(s) over the last {len(window)} conflicts"


DEFAULT_THRASHING_POLICY = ThrashingPolicy()


def _fields(actor_id: str, record: ConflictRecord) -> dict[str, Any]:
    """The structured ``extra=`` fields of a conflict's log record."""
    return {"actor_id": actor_id, "attempted_version": record.attempted, "current_version": record.current,
            "attempt": record.attempt, "distance": record.distance, "delay": record.delay}


def _thrashing(verdict: ThrashingVerdict, on_thrashing: Callable[[ThrashingVerdict], None] | None) -> ThrashingError:
    """Log the verdict, hand it to *on_thrashing*, and build the error to raise."""
    record = verdict.history[-1]
    logger.warning("stopping retries for %r after %d conflict(s): %s", verdict.actor_id, record.attempt,
                   verdict.reason, extra={**_fields(verdict.actor_id, record), "verdict": verdict.kind})
    if on_thrashing is not None:
        on_thrashing(verdict)
    return ThrashingError(verdict.actor_id, record.attempt, f"{verdict.kind}: {verdict.reason}",
                          verdict.history, verdict.kind)


def conflict_detailed_retry(store: EventStore, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None,
                            *, clock: Clock = REAL_CLOCK, max_retries: int = 3, base_delay: float = 0.010,
                            max_delay: float = 1.0, thrashing: ThrashingPolicy = DEFAULT_THRASHING_POLICY,
                            history: list[ConflictRecord] | None = None,
                            on_thrashing: Callable[[ThrashingVerdict], None] | None = None) -> Event:
    """Save the next event; after a conflict, wait and retry at the version the conflict names.

    Waits like :func:`~aether.patterns.simple.simple_retry` (``min(max_delay,
    base_delay * 2**n)``; defaults 3 retries, 10 ms, 1 s) but reads the store
    only once: each retry goes to ``conflict.current_version + 1``. Every
    conflict is logged on the ``aether.patterns.detailed`` logger with the
    ``extra`` fields actor_id, attempted_version, current_version, attempt,
    distance and delay. If *thrashing* finds a verdict it stops at once: it
    calls ``on_thrashing(verdict)`` (e.g. to open a circuit breaker; an error
    raised there propagates instead) and raises :class:`ThrashingError`.
    After the last retry it raises :class:`ConflictHistoryError`. Both are
    :class:`~aether.errors.RetriesExhaustedError` raised ``from`` the last
    conflict. Pass a list as *history* to receive the records even on success.

    Use it to diagnose contention and to stop wasting attempts on a stuck
    actor. Skipping the re-read saves store calls, not conflicts: against a
    herd of healthy competitors it wins no more often than simple retry.
    """
    check_count("max_retries", max_retries, minimum=0)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    if not isinstance(thrashing, ThrashingPolicy):
        raise TypeError(f"thrashing must be a ThrashingPolicy; got {thrashing!r}")
    records: list[ConflictRecord] = []
    event = next_event(store, actor_id, event_type, data)
    try:
        for attempt in range(1, max_retries + 2):
            try:
                store.save_event(event)
                return event
            except VersionConflictError as conflict:
                last = conflict
            records.append(ConflictRecord(attempt, clock.now(), last.attempted_version, last.current_version,
                                          last.distance))
            verdict = thrashing.judge(actor_id, records)
            if verdict is not None:
                raise _thrashing(verdict, on_thrashing) from last
            if attempt > max_retries:
                break
            delay = capped_exponential(base_delay, max_delay, attempt - 1)
            records[-1] = replace(records[-1], delay=delay)
            logger.info("version conflict for %r: attempted %d, current %d; retrying at %d in %.3f s", actor_id,
                        last.attempted_version, last.current_version, last.current_version + 1, delay,
                        extra=_fields(actor_id, records[-1]))
            clock.sleep(delay)
            event = event.replace(version=last.current_version + 1)
        logger.warning("giving up on %r after %d conflict(s)", actor_id, len(records),
                       extra=_fields(actor_id, records[-1]))
        raise ConflictHistoryError(actor_id, len(records), f"all {max_retries} retries lost", records) from last
    finally:
        if history is not None:
            history.extend(records)
