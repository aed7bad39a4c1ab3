"""One logical save, as every retry pattern performs it: the steps the patterns share.

A pattern's loop is the same three steps in every chapter, and this module
writes each step once, as :mod:`tenacity` keeps *wait*, *stop* and *retry*
apart; the patterns keep only what makes them different (which errors they
retry, how long they wait, when they stop):

* :meth:`LogicalSave.next_event` builds the event for the next attempt: one
  read of the actor, then the command's decision (or the blind data), under
  the save's one idempotency key;
* :meth:`LogicalSave.send` saves it and classifies what came back: stored,
  already stored (our own key found), a conflict (known not stored: read
  again), or an unknown outcome (a timeout: the write may still commit);
* :meth:`LogicalSave.wait` sleeps before the next attempt, never past the
  save's deadline, and :meth:`LogicalSave.begin` starts an attempt, never
  after it.

The command
-----------
``data`` is either a **decision** or a **mapping**.

A decision ``decide(events) -> Mapping | None`` is the normal way. It gets the
actor's events as read on this attempt (oldest first) and returns the next
event's data, or ``None`` to refuse, which raises
:class:`~aether.errors.CommandRefusedError` (never retried). It is called
again on a fresh read after every conflict, so a loser re-checks its decision
against the state that beat it::

    def reserve(events):
        left = STOCK - sum(1 for e in events if e.event_type == "Reserved")
        return {"units": 1} if left > 0 else None

    jitter_retry(store, "sku-42", "Reserved", reserve, deadline=2.0)

A mapping is the blind re-append of the original Go examples: the same data
again at the next version, whatever happened meanwhile. It reads only the
latest version (:meth:`~aether.store.base.EventStore.get_latest_version`),
exactly as the patterns always did, and is kept for comparison: it oversells.

The key
-------
A logical save has one idempotency key, the id of its event, fixed for all its
attempts: given as ``key=`` or generated once. After an attempt whose outcome
is unknown, a decision re-reads the actor and, finding its own key stored,
returns that event without deciding or appending again; a mapping re-sends
the same event, which the store takes as a no-op if the first send landed.
Either way, a store answering :class:`~aether.errors.DuplicateEventIdError`
for our own key on our own actor means "already stored", and the stored event
is returned. So a save is applied at most once however its writes time out.

The deadline
------------
``deadline`` is the save's whole budget in seconds on the pattern's clock.
No attempt starts at or after it, no wait starts that would end past it, and
store calls run inside :func:`~aether.contracts.deadline_scope` so a
networked store can cut its timeout to the time left. Expiry raises
:class:`~aether.errors.DeadlineExceededError` from the last error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias, cast

from aether.checks import check_seconds, check_text, show
from aether.clock import Clock
from aether.contracts import deadline_scope
from aether.errors import (
    CommandRefusedError,
    DeadlineExceededError,
    DuplicateEventIdError,
    StoreOverloadedError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.events import Event, FrozenData, new_event_id
from aether.patterns._common import check_store_and_clock
from aether.store.base import EventStore

__all__ = ["Command", "Decide", "LogicalSave", "is_decision", "outcome_unknown"]

#: A decision: the actor's events as read on this attempt (oldest first) -> the next event's
#: data, or ``None`` to refuse.
Decide: TypeAlias = Callable[[Sequence[Event]], Mapping[str, Any] | None]

#: What a pattern's ``data`` argument may be: a decision, a mapping (blind re-append) or ``None``
#: (an event without data, also blind).
Command: TypeAlias = Decide | Mapping[str, Any] | None


#: The scope of a store call when the save has no deadline (reusable: it holds no state).
_NO_SCOPE: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


def is_decision(data: object) -> bool:
    """True if *data* is a decision (a callable) rather than blind data (a mapping or ``None``)."""
    return callable(data) and not isinstance(data, Mapping)


def outcome_unknown(error: BaseException) -> bool:
    """True if a write that raised *error* may still have been stored (a timeout, a lost reply).

    Every :class:`~aether.errors.StoreUnavailableError` counts except
    :class:`~aether.errors.StoreOverloadedError`, which the store raises at
    once without doing anything.
    """
    return isinstance(error, StoreUnavailableError) and not isinstance(error, StoreOverloadedError)


class LogicalSave:
    """The state of one logical save across its attempts: command, key, deadline.

    Build one at the top of a pattern (it checks the arguments every pattern
    takes) and use its three steps in the loop::

        save = LogicalSave(store, actor_id, event_type, data, clock,
                           key=key, deadline=deadline)
        for attempt in range(1, max_attempts + 1):
            save.begin(last)                 # stop: no attempt after the deadline
            event = save.next_event()        # build: read, decide, one key
            try:
                return save.send(event)      # the event stored (ours, or found already stored)
            except VersionConflictError as conflict:
                last = conflict              # retry: a conflict
            save.wait(delay, last)           # wait: never past the deadline

    ``attempts`` counts the attempts begun, ``deadline_at`` is the clock time
    the save must end by (``None``: no deadline).
    """

    __slots__ = ("store", "actor_id", "event_type", "clock", "key", "deadline", "deadline_at",
                 "attempts", "_decide", "_data", "_resend", "_stored", "_last", "_sent")

    def __init__(self, store: EventStore, actor_id: str, event_type: str, data: Command,
                 clock: Clock, *, key: str | None = None, deadline: float | None = None) -> None:
        check_store_and_clock(store, actor_id, event_type, clock)
        if isinstance(data, type):
            raise TypeError(f"data must be a decision decide(events) -> Mapping | None, "
                            f"a mapping or None, "
                            f"not a class; got {show(data)}")
        self.store, self.actor_id, self.event_type, self.clock = store, actor_id, event_type, clock
        if is_decision(data):
            self._decide: Decide | None = cast(Decide, data)
            self._data: FrozenData | None = None
        else:
            self._decide = None
            self._data = FrozenData(data)  # type: ignore[arg-type]
        self.key = new_event_id() if key is None else check_text("key", key)
        if deadline is not None:
            deadline = check_seconds("deadline", deadline, positive=True)
        self.deadline = deadline
        self.deadline_at = None if self.deadline is None else clock.now() + self.deadline
        self.attempts = 0
        self._resend: Event | None = None  # the blind event to send again after an unknown outcome
        self._stored: Event | None = None  # our own event, found already stored
        self._last: BaseException | None = None  # the error that ended the previous attempt
        # The first event built: each later attempt sends it at another version.
        self._sent: Event | None = None

    # -- stop: the deadline --------------------------------------------------------------------

    def begin(self, last: BaseException | None = None) -> None:
        """Start an attempt; raise :class:`DeadlineExceededError` ``from`` *last* if time is up."""
        self._last = last
        if self.deadline_at is not None and self.clock.now() >= self.deadline_at:
            raise self._expired() from last
        self.attempts += 1

    def wait(self, seconds: float, last: BaseException | None = None) -> None:
        """Sleep *seconds* before the next attempt, unless that would end past the deadline.

        Past the deadline it raises :class:`DeadlineExceededError` ``from``
        *last* at once, without sleeping.
        """
        if self.deadline_at is not None and self.clock.now() + seconds > self.deadline_at:
            raise self._expired() from last
        self.clock.sleep(seconds)

    def _expired(self) -> DeadlineExceededError:
        return DeadlineExceededError(self.actor_id, self.deadline or 0.0, self.attempts)

    def _scope(self) -> contextlib.AbstractContextManager[None]:
        # Without a deadline a store call needs no scope: one shared do-nothing context.
        if self.deadline_at is None:
            return _NO_SCOPE
        return deadline_scope(self.deadline_at)

    # -- build: read, decide, one key ----------------------------------------------------------

    def next_event(self, *, after: VersionConflictError | None = None) -> Event:
        """The event the next attempt sends, built on one read of the actor.

        * a decision reads the actor's events; if our key is among them (an
          earlier attempt landed) that event is returned and nothing is
          decided; otherwise ``decide(events)`` gives the data, or ``None``,
          which raises :class:`CommandRefusedError`;
        * a mapping reads the latest version, or, after an unknown outcome,
          re-sends the same event without reading; with *after* (a conflict
          whose ``current_version`` the caller trusts) it skips the read.
        """
        if self._decide is None:
            if self._resend is not None:
                return self._resend
            if after is not None:
                version = after.current_version
            else:
                with self._scope():
                    version = self.store.get_latest_version(self.actor_id)
            return self._event(version + 1, self._data)  # id=self.key, the save's one key
        with self._scope():
            events = self.store.get_events(self.actor_id)
        for event in events:
            if event.id == self.key:
                self._stored = event
                return event
        version = events[-1].version if events else 0
        data = self._decide(events)
        if data is None:
            raise CommandRefusedError(self.actor_id, version)
        if not isinstance(data, Mapping):
            raise TypeError(f"decide must return a mapping or None; got {show(data)} "
                            f"({type(data).__name__})")
        return self._event(version + 1, data)  # id=self.key again: same key, every attempt

    def _event(self, version: int, data: Any) -> Event:
        """This save's event at *version* with *data*: built once, then the first one re-aimed."""
        if self._sent is None:
            self._sent = Event(actor_id=self.actor_id, event_type=self.event_type,
                               version=version, data=data, id=self.key)
            return self._sent
        return self._sent.at_version(version, data)

    # -- send and classify ---------------------------------------------------------------------

    def send(self, event: Event) -> Event:
        """Save *event* and return the event stored for this logical save.

        Returns *event*, or our own event found already stored (by
        :meth:`next_event`, or by the store answering
        :class:`DuplicateEventIdError` for our key). A conflict propagates,
        its traceback starting at the call of this method (the store's
        frames dropped: a waiting writer keeps its last conflict), and the next
        :meth:`next_event` reads again. An unknown outcome
        (:func:`outcome_unknown`) propagates too, and a blind save will
        re-send the same event; if the deadline has passed by then, it
        becomes :class:`DeadlineExceededError` ``from`` that error. Nothing
        is written once the deadline has passed (the read took the time left).
        """
        if self._stored is not None and event is self._stored:
            return event
        if self.deadline_at is not None and self.clock.now() >= self.deadline_at:
            raise self._expired() from self._last  # the read took the time left: do not write
        self._resend = None
        try:
            if self.deadline_at is None:
                self.store.save_event(event)
            else:
                with deadline_scope(self.deadline_at):
                    self.store.save_event(event)
        except VersionConflictError as conflict:
            # A conflict is the outcome a pattern retries, not a fault to debug. It reaches the
            # pattern with a traceback from the pattern's call of send on, without the frames of
            # send and below (the store's, and in an experiment the network's and the recorder's),
            # which a writer would otherwise hold while it waits (about 2 KB each).
            conflict.__traceback__ = None
            raise
        except DuplicateEventIdError as duplicate:
            if duplicate.event_id != self.key or duplicate.stored_actor_id != self.actor_id:
                raise
            return self._read_stored(duplicate.stored_version)
        except StoreUnavailableError as error:
            if self._decide is None:
                self._resend = event
            if self.deadline_at is not None and self.clock.now() >= self.deadline_at:
                raise self._expired() from error
            raise
        return event

    def _read_stored(self, version: int) -> Event:
        with self._scope():
            events = self.store.get_events(self.actor_id, version)
        for event in events:
            if event.id == self.key:
                return event
        raise LookupError(f"event {self.key!r} reported stored at actor {self.actor_id!r} "
                          f"version {version}, but it is not there")
