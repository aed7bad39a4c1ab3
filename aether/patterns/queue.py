"""Retry queue: accept the write now, store it a little later (eventual consistency).

The caller's :meth:`RetryQueue.enqueue` returns a :class:`Ticket` at once; a
background worker takes the queued writes in order and saves each one,
retrying with capped exponential backoff. A write is never dropped: it is
committed, or after ``max_attempts`` moved to :attr:`RetryQueue.dead_letters`
with its last error. Use it when callers must not wait for the store (a web
request that records an audit event); the risk is that "accepted" is not
"stored": readers may not see the write yet, and a backlog grows if writes
arrive faster than the worker can save them, so watch the depth and the delay.

The write is a command, as for every retry pattern (:mod:`aether.patterns.command`):
a decision ``decide(events) -> data | None`` is made by the worker when it
delivers, on a fresh read of the actor before every delivery attempt, so it
decides on the state the write will actually land on, not the state at
enqueue time; ``None`` settles the ticket as ``"refused"`` (never retried).
A mapping is appended blindly at the next version (the Go template). Each
write has one idempotency key (``key=``, or one generated at enqueue) for all
its delivery attempts, so a write whose reply was lost is never stored twice,
and a ``deadline`` (seconds from enqueue) after which it is no longer
attempted: it settles as ``"deadline"``::

    def reserve(events):
        return {"units": 1} if len(events) < STOCK else None

    with RetryQueue(store) as queue:
        ticket = queue.enqueue("sku-42", "Reserved", reserve, key="order-7", deadline=5.0)
    ticket.outcome          # "committed" or "refused" (or "deadline", "dead_letter")

This queue lives in memory, which makes it the right thing to teach with and
the wrong thing to trust with writes that must outlive the process: a program
that exits (or crashes) before :meth:`RetryQueue.close` drops every write not
yet saved. A program can see that without reading warnings:
:func:`unsaved_writes` counts the writes its live queues accepted and have not
settled (check it before exiting), and a queue that ends without ``close``
dead-letters its unsaved tickets and is listed by :func:`lost_writes`; it
also warns (a :class:`RuntimeWarning`). :class:`~aether.patterns.outbox.DurableOutbox`
keeps accepted writes in an SQLite file instead, so a restarted program delivers them.
"""

from __future__ import annotations

import collections
import os
import warnings
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from aether.checks import check_int, check_methods, check_seconds, check_text, show
from aether.clock import Signal, SimulatedClock, TaskClock
from aether.errors import (
    CommandRefusedError,
    DeadlineExceededError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, STORE_METHODS, capped_exponential
from aether.patterns.command import Command, LogicalSave, is_decision
from aether.patterns.shared import SharedStatePolicy
from aether.patterns.worker import BackgroundWorker, WorkerFailure
from aether.store.base import EventStore

if TYPE_CHECKING:
    from aether.contracts import RunContext

__all__ = [
    "MAX_WORKERS",
    "LostWrites",
    "QueuedWrites",
    "RetryQueue",
    "Ticket",
    "WorkerFailure",
    "check_queue_settings",
    "lost_writes",
    "unsaved_writes",
]


class Ticket:
    """The receipt for one queued write; it satisfies :class:`~aether.contracts.Deferred`.

    ``outcome`` is ``"pending"`` until the worker settles it as
    ``"committed"`` (``event`` is the stored event), ``"refused"`` (the
    decision said no: ``error`` is the :class:`~aether.errors.CommandRefusedError`),
    ``"deadline"`` (the write's deadline passed before it was stored: ``error``
    is the :class:`~aether.errors.DeadlineExceededError`) or ``"dead_letter"``
    (``error`` is the last error). ``data`` is the write's mapping or its
    decision, ``key`` its idempotency key (the stored event's id). Times are on the queue's clock:
    ``enqueued_at``, ``settled_at`` and ``delay`` (enqueue to commit).
    :meth:`wait` blocks until the ticket is settled. ``attempts`` counts every
    save attempt made for the write, by whichever worker made it.
    """

    def __init__(
        self,
        actor_id: str,
        event_type: str,
        data: Command,
        enqueued_at: float,
        settled: Signal,
        key: str | None = None,
    ) -> None:
        self.actor_id = actor_id
        self.event_type = event_type
        self.data = data
        self.key = key
        self.enqueued_at = enqueued_at
        self.outcome = "pending"
        self.event: Event | None = None
        self.settled_at: float | None = None
        self.attempts = 0
        self.error: BaseException | None = None
        self._settled = settled
        # The logical save across every delivery attempt (a retry queue's ticket): its one key,
        # its deadline, and the blind event to re-send after a lost reply.
        self._save: LogicalSave | None = None

    @property
    def delay(self) -> float | None:
        """Seconds from enqueue to commit, or ``None`` if not committed."""
        if self.outcome != "committed" or self.settled_at is None:
            return None
        return self.settled_at - self.enqueued_at

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (in clock time) until the write settles or *timeout* s pass; return whether it did.

        *timeout* is a number of seconds ``>= 0`` or ``None`` (wait as long as
        it takes); anything else is refused before waiting.
        """
        if timeout is not None:
            timeout = check_seconds("timeout", timeout)
        return self._settled.wait(timeout)

    def __repr__(self) -> str:
        return (f"<Ticket {self.actor_id!r} {self.event_type!r}: {self.outcome} "
                f"after {self.attempts} attempt(s)>")


#: The most workers a retry queue runs: each is a thread (or a simulated task) of its own.
MAX_WORKERS = 1000


def check_queue_settings(
    max_attempts: object, base_delay: object, max_delay: object, workers: object, name: object
) -> tuple[int, float, float, int, str]:
    """Check a background writer's settings and return them normalised; raise naming the bad one.

    Shared by :class:`RetryQueue`, :class:`QueuedWrites` and
    :class:`~aether.patterns.outbox.DurableOutbox`.
    """
    attempts = check_int("max_attempts", max_attempts, 1)
    base = check_seconds("base_delay", base_delay)
    cap = check_seconds("max_delay", max_delay)
    if cap < base:
        raise ValueError(f"max_delay must be >= base_delay ({base!r} s); got {show(max_delay)}")
    count = check_int("workers", workers, 1, MAX_WORKERS)
    return attempts, base, cap, count, check_text("name", name)


class LostWrites(NamedTuple):
    """A record of a retry queue that ended without :meth:`~RetryQueue.close`, writes unsaved.

    ``queue`` is its name and ``tickets`` the writes it had accepted and not
    settled, now dead letters whose ``error`` says they were lost.
    """

    queue: str
    tickets: tuple[Ticket, ...]


_LOST: list[LostWrites] = []
_LIVE_QUEUES: weakref.WeakSet[RetryQueue] = weakref.WeakSet()


def lost_writes() -> list[LostWrites]:
    """Every retry queue of this process that ended (was garbage-collected) with writes never saved.

    Each write in it is a dead-lettered :class:`Ticket`: a program that kept
    its tickets sees ``outcome == "dead_letter"`` on them too. At interpreter
    exit the queues still alive end after the program's own ``atexit``
    functions have run; check :func:`unsaved_writes` there instead.
    """
    return list(_LOST)


def unsaved_writes() -> int:
    """How many writes the live real-clock retry queues of this process hold, not settled yet.

    Zero once every queue was closed (or drained). A program about to exit
    checks it: anything above zero is lost at exit, since a retry queue keeps
    its writes in memory only.
    """
    queues = [q for q in list(_LIVE_QUEUES) if not isinstance(q.clock, SimulatedClock)]
    return sum(queue.pending() for queue in queues)


class _Unsaved:
    """A queue's accepted but unsettled tickets, shared with its end-of-life check.

    Kept apart from the queue so that the check (a :func:`weakref.finalize`
    callback) can reach the tickets without keeping the queue alive.
    """

    __slots__ = ("pid", "tickets")

    def __init__(self) -> None:
        self.tickets: dict[int, Ticket] = {}
        self.pid = os.getpid()

    @property
    def count(self) -> int:
        return len(self.tickets)


def _lose_unsaved(unsaved: _Unsaved, name: str) -> None:
    """A queue ended (exit, garbage collection) with writes never saved: dead-letter, list, warn."""
    if not unsaved.tickets or unsaved.pid != os.getpid():  # a forked child did not accept them
        return
    tickets = tuple(unsaved.tickets.values())
    unsaved.tickets.clear()
    for ticket in tickets:
        ticket.error = RuntimeError(
            f"retry queue {name!r} ended without close() before this write was saved: it is lost"
        )
        ticket.outcome = "dead_letter"
        ticket._settled.set()
    _LOST.append(LostWrites(name, tickets))
    warnings.warn(
        f"retry queue {name!r} ended without close() with {len(tickets)} accepted "
        "write(s) never saved: they are lost, because this queue keeps writes in memory "
        "only (see aether.patterns.queue.lost_writes(); use DurableOutbox for writes that "
        "must survive an exit or a crash)",
        RuntimeWarning,
        stacklevel=1,
    )


class RetryQueue(BackgroundWorker[Ticket]):
    """A queue of writes saved in the background, retried until committed or dead-lettered.

    ``store`` is the store the worker writes to and ``clock`` a clock that can
    ``spawn`` tasks and make ``signal`` s (a thread under
    :class:`~aether.clock.RealClock`, a simulated task under
    :class:`~aether.clock.SimulatedClock`). Call :meth:`start`, then
    :meth:`enqueue` from any number of writers, and :meth:`close` at the end
    (or use it as a context manager). A queue is also a pattern: calling it
    like one enqueues, so the experiment can run it.

    One worker (the default) saves writes one at a time in arrival order: the
    client's writes are serialised, so they never conflict with each other.
    ``workers=N`` saves N at a time, and then they may.

    Each save is retried on a conflict or :class:`~aether.errors.StoreUnavailableError`
    after ``min(max_delay, base_delay * 2**n)`` seconds, up to ``max_attempts``
    attempts, under the write's one key. A decision is made again on a fresh
    read before every attempt, and a write whose key is already stored (an
    earlier attempt landed) is committed as that event without deciding
    again; a blind write is re-sent as the same event after an outage (a
    no-op if it landed). A refusal settles the write as ``"refused"`` and a
    passed deadline as ``"deadline"``, at once: neither is retried nor a
    dead letter. Any other error dead-letters the write at once and is
    recorded in :attr:`errors`; the worker carries on.

    ``deadline`` (seconds, default ``None``: none) is every write's budget
    from its enqueue, unless :meth:`enqueue` gives one; no delivery attempt
    starts after it, no backoff is started that would end past it, and the
    store calls run inside :func:`~aether.contracts.deadline_scope`.

    A worker killed by a :class:`BaseException` (``KeyboardInterrupt``,
    ``SystemExit``, raised inside the store's save) puts the write it was
    holding back at the head of the queue, records the error in
    :attr:`errors` and lets it propagate (on a simulated clock it comes out of
    the call that runs the simulation). A later :meth:`start` saves the write
    under the same key (the store finds the key if the send had landed), so
    nothing is stored twice; another worker, if there are several, takes it at
    once. While no worker is left, :attr:`failure` names the error and
    :meth:`enqueue` refuses new writes. :meth:`close` turns whatever no worker
    can save any more into dead letters (with the error that killed the worker
    as the cause) and raises; ``close(timeout=...)`` gives up waiting for a
    store that hangs.

    The queue lives in memory: writes not saved when the process exits are
    lost. :func:`unsaved_writes` tells a program how many its queues still
    hold; a queue on a real clock that ends without :meth:`close` (the
    process exits, or the queue is garbage-collected) dead-letters them, lists
    them in :func:`lost_writes` and warns with a :class:`RuntimeWarning`; a
    simulated queue does not (its writes end with the simulation). For
    writes that must survive, use :class:`~aether.patterns.outbox.DurableOutbox`.

    Metrics: :attr:`depth_samples` ``(time, depth)`` at every enqueue and
    dequeue, :attr:`max_depth`, :attr:`delays`, :attr:`committed`,
    :attr:`refused`, :attr:`expired`, :attr:`dead_letters` and :meth:`pending`.
    """

    kind = "retry queue"

    def __init__(
        self,
        store: EventStore,
        *,
        clock: TaskClock = REAL_CLOCK,
        max_attempts: int = 10,
        base_delay: float = 0.010,
        max_delay: float = 1.0,
        workers: int = 1,
        name: str = "retry_queue",
        deadline: float | None = None,
    ) -> None:
        check_methods("store", store, STORE_METHODS, "an event store")
        check_methods(
            "clock",
            clock,
            ("now", "sleep", "spawn", "signal"),
            "a clock that can spawn tasks and make signals (RealClock, SimulatedClock)",
        )
        settings = check_queue_settings(max_attempts, base_delay, max_delay, workers, name)
        self.max_attempts, base_delay, max_delay, workers, name = settings
        if deadline is not None:
            deadline = check_seconds("deadline", deadline, positive=True)
        self.deadline = deadline
        super().__init__(clock, name, workers, base_delay, max_delay)
        self.store = store
        self.depth_samples: list[tuple[float, int]] = []
        self.delays: list[float] = []
        self.committed = 0
        self.refused: list[Ticket] = []
        self.expired: list[Ticket] = []
        self.dead_letters: list[Ticket] = []
        self._items: collections.deque[Ticket] = collections.deque()
        self._unsaved = _Unsaved()  # accepted and not settled: queued or in a worker's hand
        if not isinstance(clock, SimulatedClock):
            weakref.finalize(self, _lose_unsaved, self._unsaved, name)
            _LIVE_QUEUES.add(self)

    # -- the caller's side --------------------------------------------------------

    def enqueue(
        self,
        actor_id: str,
        event_type: str,
        data: Command = None,
        *,
        key: str | None = None,
        deadline: float | None = None,
    ) -> Ticket:
        """Queue one write and return its :class:`Ticket` at once (the write is validated now).

        *data* is a decision ``decide(events) -> data | None`` (made by the
        worker, on a fresh read before every delivery attempt) or a mapping
        (appended blindly). *key* is the write's idempotency key (the stored
        event's id; default: generated now), *deadline* its budget in seconds
        from now (default: the queue's ``deadline``).

        Refused with a :class:`RuntimeError` once the queue is stopped, or
        while every worker is dead (:attr:`failure` says of what).
        """
        command = data if is_decision(data) else Event(
            actor_id=actor_id, event_type=event_type, version=1, data=data  # type: ignore[arg-type]
        ).data  # validates and freezes a mapping
        save = LogicalSave(self.store, actor_id, event_type, command, self.clock, key=key,
                           deadline=self.deadline if deadline is None else deadline)
        ticket = Ticket(
            actor_id,
            event_type,
            command,
            self.clock.now(),
            self.clock.signal(f"ticket {actor_id}"),
            save.key,
        )
        ticket._save = save
        with self._lock:
            self._check_accepting()
            self._items.append(ticket)
            self._unsaved.tickets[id(ticket)] = ticket
            self._sample()
        self._work.set()
        return ticket

    def __call__(
        self,
        store: EventStore,
        actor_id: str,
        event_type: str,
        data: Command = None,
        *,
        clock: object = None,
        key: str | None = None,
        deadline: float | None = None,
    ) -> Ticket:
        """The pattern signature: enqueue the write (*store* is unused: the worker has its own)."""
        return self.enqueue(actor_id, event_type, data, key=key, deadline=deadline)

    @property
    def depth(self) -> int:
        """Writes waiting in the queue (not counting the ones being saved)."""
        return len(self._items)

    def pending(self) -> int:
        """Writes accepted and not settled yet: the queued ones and those a worker is saving."""
        return self._unsaved.count

    @property
    def max_depth(self) -> int:
        """The largest depth seen so far."""
        return max((depth for _, depth in self.depth_samples), default=0)

    # -- closing ------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> None:
        """Stop with drain and wait (at most *timeout* s); dead-letter what is left, and raise.

        Each queued write left over (a worker died, or *timeout* passed)
        becomes a dead letter whose ``error`` is a ``RuntimeError`` caused by
        the error that killed the last worker (if any), and ``close`` raises
        a ``RuntimeError`` naming how many, or a :class:`TimeoutError` if
        the workers were still busy after *timeout* (a write in a worker's
        hand then settles whenever the store answers).
        """
        super().close(timeout)

    def _closed(self, finished: bool) -> None:
        with self._lock:
            left, self._items = list(self._items), collections.deque()
            if left:
                self._sample()
            last = self.errors[-1].error if self.errors else None
            fatal = self._fatal if self._fatal is not None else last
            busy = 0 if finished else self._unsaved.count - len(left)
        for ticket in left:
            error = RuntimeError(f"retry queue {self.name!r} closed before this write was saved")
            error.__cause__ = fatal
            ticket.error = error
            self._settle(ticket, "dead_letter", None)
        if not finished:
            raise TimeoutError(
                f"retry queue {self.name!r} did not finish within close(timeout=...): "
                f"{len(left)} queued write(s) are now dead letters and {busy} write(s) are still "
                "in a worker's hand (the store has not answered)"
            )
        if left:
            raise RuntimeError(
                f"retry queue {self.name!r} closed with {len(left)} write(s) not saved "
                f"(now dead letters); worker errors: {[e.error for e in self.errors]}"
            )

    # -- the worker's side ----------------------------------------------------------

    def _take(self) -> Ticket | None:
        if not self._items:
            return None
        ticket = self._items.popleft()
        self._sample()
        return ticket

    def _deliver(self, ticket: Ticket) -> None:
        """Save one write with backoff; settle it: committed, refused, deadline or dead letter.

        Every attempt re-reads the actor (a decision decides again; a blind
        write re-sent after an outage does not read), under the write's one key.
        """
        save = ticket._save
        assert save is not None  # set by enqueue
        last: BaseException | None = None
        try:
            for attempt in range(1, self.max_attempts + 1):
                if attempt > 1:
                    delay = capped_exponential(self.base_delay, self.max_delay, attempt - 2)
                    save.wait(delay, last)
                save.begin(last)
                ticket.attempts += 1
                try:
                    event = save.send(save.next_event())
                except (VersionConflictError, StoreUnavailableError) as error:
                    ticket.error = last = error
                else:
                    self._settle(ticket, "committed", event)
                    return
        except CommandRefusedError as refusal:
            ticket.error = refusal
            self._settle(ticket, "refused", None)
            return
        except DeadlineExceededError as expired:
            ticket.error = expired
            self._settle(ticket, "deadline", None)
            return
        self._settle(ticket, "dead_letter", None)

    def _failed(self, ticket: Ticket, error: Exception) -> None:
        """An unexpected error (a bug, a bad write): dead-letter the write, carry on."""
        ticket.error = error
        self._record(ticket, error)
        self._settle(ticket, "dead_letter", None)

    def _killed(self, ticket: Ticket | None, error: BaseException) -> Ticket | None:
        """Return a write whose worker was killed to the head of the queue, for the next worker."""
        if ticket is None or ticket.outcome != "pending":
            return None
        ticket.error = error
        with self._lock:
            self._items.appendleft(ticket)
            self._sample()
        self._work.set()
        return ticket

    def _settle(self, ticket: Ticket, outcome: str, event: Event | None) -> None:
        with self._lock:
            if self._unsaved.tickets.pop(id(ticket), None) is None:
                return  # already settled (lost at the end of the queue's life)
            ticket.outcome, ticket.event, ticket.settled_at = outcome, event, self.clock.now()
            if outcome == "committed":
                self.committed += 1
                self.delays.append(ticket.settled_at - ticket.enqueued_at)
            elif outcome == "refused":
                self.refused.append(ticket)
            elif outcome == "deadline":
                self.expired.append(ticket)
            else:
                self.dead_letters.append(ticket)
        ticket._settled.set()

    def _sample(self) -> None:
        self.depth_samples.append((self.clock.now(), len(self._items)))

    def __repr__(self) -> str:
        return (
            f"<RetryQueue {self.name!r}: depth {self.depth}, committed {self.committed}, "
            f"refused {len(self.refused)}, expired {len(self.expired)}, "
            f"dead letters {len(self.dead_letters)}>"
        )


@dataclass(frozen=True)
class QueuedWrites(SharedStatePolicy):
    """A :class:`RetryQueue` per run, for :func:`~aether.experiment.run_contention`.

    The queue is the state every writer of a run shares, as a breaker is for
    :class:`~aether.patterns.breaker.CircuitBreakerPolicy`: ``bind`` builds a
    queue on the run's clock with its own store view (the worker's calls are
    recorded under a negative writer number), starts it, and returns it as
    the writers' pattern; the experiment closes it (drains it) after the
    last writer. :attr:`queues` keeps each run's queue for its metrics.
    ``deadline`` is each write's budget from its enqueue (``None``: none).
    """

    states_field = "queues"
    state_type = RetryQueue

    max_attempts: int = 10
    base_delay: float = 0.010
    max_delay: float = 1.0
    workers: int = 1
    name: str = "queued_writes"
    queues: list[RetryQueue] = field(default_factory=list, init=False, compare=False, repr=False)
    deadline: float | None = None

    def check_settings(self) -> None:
        """Check the queue's own settings (a throw-away queue would need a store)."""
        check_queue_settings(
            self.max_attempts, self.base_delay, self.max_delay, self.workers, self.name
        )

    def new_queue(self, store: EventStore, clock: TaskClock) -> RetryQueue:
        """A queue with these settings (not started)."""
        return RetryQueue(
            store,
            clock=clock,
            max_attempts=self.max_attempts,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            workers=self.workers,
            name=self.name,
            deadline=self.deadline,
        )

    def new_run_state(self, ctx: RunContext) -> RetryQueue:
        """A started queue on the run's clock whose worker has its own store view."""
        return self.new_queue(ctx.store_for(), ctx.clock).start()

    def writer(self, state: RetryQueue) -> RetryQueue:
        """The queue itself is the writers' pattern (calling it enqueues; the run closes it)."""
        return state
