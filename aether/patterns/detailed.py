"""Conflict-detailed retry: read each conflict, keep its history, stop when retrying is hopeless.

A :class:`~aether.errors.VersionConflictError` says where the store is (``current_version``),
so this pattern retries at ``current_version + 1`` directly and skips the store read that
:func:`~aether.patterns.simple.simple_retry` makes before every retry. It logs every
conflict with structured fields and keeps a :class:`ConflictRecord` per conflict; from that
record a :class:`ThrashingPolicy` recognises thrashing (losing to something that does not
progress, or to a gap too wide to close) and the pattern stops early instead of spending
its remaining attempts. Use it when you need to see why saves fail, or when a store can
answer from a stale replica or cache (its conflicts then report a version that does not
move, which optimistic concurrency alone never does); the risk is a false verdict, which
the default thresholds tolerate once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from aether.checks import check_methods, show
from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import (
    REAL_CLOCK,
    capped_exponential,
    check_backoff,
    check_count,
    check_hook,
)
from aether.patterns.backoff import GO_BACKOFF
from aether.patterns.command import Command, LogicalSave
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
    """One lost save: which *attempt* (1-based), at what clock *time*, the versions, the *delay*.

    ``attempted`` and ``current`` are the conflict's versions, ``distance``
    the commits by others since our read, and ``delay`` the seconds the
    backoff waits before the next attempt: ``0.0`` after the last attempt.
    A thrashing verdict on this record stops the save before that wait.
    """

    attempt: int
    time: float
    attempted: int
    current: int
    distance: int
    delay: float = 0.0


@dataclass(frozen=True)
class ThrashingVerdict:
    """Why retrying is pointless: the *kind*, a readable *reason*, the conflicts that show it."""

    kind: ThrashingKind
    reason: str
    actor_id: str
    history: tuple[ConflictRecord, ...]


class ConflictHistoryError(RetriesExhaustedError):
    """A :class:`~aether.errors.RetriesExhaustedError` with the ``history`` of the save's conflicts.

    ``history`` is a tuple of :class:`ConflictRecord`, oldest first.
    """

    def __init__(self, actor_id: str, attempts: int, reason: str = "retry limit reached",
                 history: Sequence[ConflictRecord] = ()) -> None:
        super().__init__(actor_id, attempts, reason)
        self.history: tuple[ConflictRecord, ...] = tuple(history)


class ThrashingError(ConflictHistoryError):
    """The pattern stopped early because retrying was hopeless; ``verdict`` is the kind of it."""

    def __init__(self, actor_id: str, attempts: int, reason: str = "thrashing",
                 history: Sequence[ConflictRecord] = (), verdict: str = "thrashing") -> None:
        super().__init__(actor_id, attempts, reason, history)
        self.verdict = verdict

    @classmethod
    def from_verdict(cls, verdict: ThrashingVerdict) -> ThrashingError:
        """The error for a save stopped by *verdict*: one attempt per conflict of its history."""
        return cls(verdict.actor_id, len(verdict.history), f"{verdict.kind}: {verdict.reason}",
                   verdict.history, verdict.kind)


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
        if self.no_progress_versions >= self.no_progress_window:
            # over N conflicts the store moves at least N - 1 versions under contention alone
            raise ValueError(f"no_progress_versions must be below no_progress_window "
                             f"({show(self.no_progress_window)}): a larger value calls all "
                             f"contention thrashing; got {show(self.no_progress_versions)}")
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
        return "hopeless", (f"{last.distance} commits since our read "
                            f"(give_up_distance={self.give_up_distance})")

    def _stuck(self, history: Sequence[ConflictRecord]) -> tuple[ThrashingKind, str] | None:
        recent = {record.current for record in history[-self.stuck_after:]}
        if len(history) < self.stuck_after or len(recent) != 1:
            return None
        current = history[-1].current
        return "stuck", (f"current version {current} in {self.stuck_after} consecutive conflicts; "
                         "the store's answer does not move (a stale replica or cache?)")

    def _no_progress(self, history: Sequence[ConflictRecord]) -> tuple[ThrashingKind, str] | None:
        window = history[-self.no_progress_window:]
        moved = window[-1].current - window[0].current
        if len(window) < self.no_progress_window or moved > self.no_progress_versions:
            return None
        return "no_progress", (f"the store moved {moved} version(s) over the last {len(window)} "
                               f"conflicts")


DEFAULT_THRASHING_POLICY = ThrashingPolicy()


def _log(actor_id: str, record: ConflictRecord, verdict: ThrashingVerdict | None,
         final: bool) -> None:
    """Log one conflict with structured fields: INFO if a retry follows, WARNING if it stops."""
    fields = {"actor_id": actor_id, "attempted_version": record.attempted,
              "current_version": record.current, "attempt": record.attempt,
              "distance": record.distance, "delay": record.delay}
    if verdict is not None:
        logger.warning("stopping retries for %r after %d conflict(s): %s", actor_id, record.attempt,
                       verdict.reason, extra={**fields, "verdict": verdict.kind})
    elif final:
        logger.warning("giving up on %r after %d conflict(s)", actor_id, record.attempt,
                       extra=fields)
    else:
        logger.info("version conflict for %r: attempted %d, current %d; retrying at %d in %.3f s",
                    actor_id, record.attempted, record.current, record.current + 1, record.delay,
                    extra=fields)


def conflict_detailed_retry(store: EventStore, actor_id: str, event_type: str,
                            data: Command = None, *, clock: Clock = REAL_CLOCK,
                            max_attempts: int = 4, base_delay: float = GO_BACKOFF.base_delay,
                            max_delay: float = GO_BACKOFF.max_delay,
                            thrashing: ThrashingPolicy = DEFAULT_THRASHING_POLICY,
                            on_conflict: Callable[[ConflictRecord], None] | None = None,
                            on_thrashing: Callable[[ThrashingVerdict], None] | None = None,
                            key: str | None = None, deadline: float | None = None) -> Event:
    """Save the next event; after a conflict, wait and retry at the version the conflict names.

    Waits like :func:`~aether.patterns.simple.simple_retry` (defaults: 4
    attempts, :data:`~aether.patterns.backoff.GO_BACKOFF`). Saving a command
    (a decision ``decide(events)``, the normal way), it re-reads the actor and
    decides again before every attempt. Only the blind shortcut (a mapping as
    *data*) skips the read: it retries the same data at
    ``conflict.current_version + 1``. Each conflict
    becomes one :class:`ConflictRecord`, handed to ``on_conflict(record)`` (on
    success too) and logged on the ``aether.patterns.detailed`` logger with
    ``extra`` fields (actor_id, attempted_version, current_version, attempt,
    distance, delay). A *thrashing* verdict stops the save at once: it goes to
    ``on_thrashing(verdict)`` (say, to open a breaker; an error raised there
    propagates instead), then :class:`ThrashingError` is raised. After the
    last attempt it raises :class:`ConflictHistoryError`. Both carry the
    records in ``history`` and are raised ``from`` the last conflict.

    Use it to diagnose contention and to stop wasting attempts on a stuck
    actor. Skipping the re-read saves store calls, not conflicts: against a
    herd of healthy competitors it wins no more often than simple retry.

    *data*, *key* and *deadline* as in :func:`~aether.patterns.simple.simple_retry`.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_count("max_attempts", max_attempts)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    check_methods("thrashing", thrashing, ("judge",), "a ThrashingPolicy")
    check_hook("on_conflict", on_conflict)
    check_hook("on_thrashing", on_thrashing)
    history: list[ConflictRecord] = []
    last: VersionConflictError | None = None
    save.begin()
    event = save.next_event()
    for attempt in range(1, max_attempts + 1):
        try:
            return save.send(event)
        except VersionConflictError as conflict:
            last = conflict
        final = attempt == max_attempts
        delay = 0.0 if final else capped_exponential(base_delay, max_delay, attempt - 1)
        record = ConflictRecord(attempt, clock.now(), last.attempted_version, last.current_version,
                                last.distance, delay)
        history.append(record)
        if on_conflict is not None:
            on_conflict(record)
        verdict = thrashing.judge(actor_id, history)
        _log(actor_id, record, verdict, final)
        if verdict is not None:
            if on_thrashing is not None:
                on_thrashing(verdict)
            raise ThrashingError.from_verdict(verdict) from last
        if attempt < max_attempts:
            save.wait(delay, last)
            save.begin(last)
            event = save.next_event(after=last)  # a blind retry goes to current + 1 without a read
    raise ConflictHistoryError(actor_id, max_attempts, "retry limit reached", history) from last
