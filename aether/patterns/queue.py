"""Retry queue: accept the write now, store it a little later (eventual consistency).

The caller's :meth:`RetryQueue.enqueue` returns a :class:`Ticket` at once; a
background worker takes the queued writes in order and saves each one,
retrying with capped exponential backoff. A write is never dropped: it is
committed, or after ``max_attempts`` moved to :attr:`RetryQueue.dead_letters`
with its last error. Use it when callers must not wait for the store (a web
request that records an audit event); the risk is that "accepted" is not
"stored": readers may not see the write yet, and a backlog grows if writes
arrive faster than the worker can save them, so watch the depth and the delay.

This queue lives in memory, which makes it the right thing to teach with and
the wrong thing to trust with writes that must outlive the process: a program
that exits (or crashes) before :meth:`RetryQueue.close` drops every write not
yet saved. It says so on the way out (a :class:`RuntimeWarning` naming how
many writes were lost); :class:`~aether.patterns.outbox.DurableOutbox` keeps
accepted writes in an SQLite file instead, so a restarted program delivers them.
"""

from __future__ import annotations

import collections
import os
import threading
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from aether.checks import check_bool, check_int, check_methods, check_seconds, check_text
from aether.clock import Signal, SimulatedClock, Task, TaskClock
from aether.errors import StoreUnavailableError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, capped_exponential, next_event
from aether.store.base import EventStore

if TYPE_CHECKING:
    from aether.contracts import RunContext

__all__ = ["QueuedWrites", "RetryQueue", "Ticket", "WorkerError"]


class Ticket:
    """The receipt for one queued write; it satisfies :class:`~aether.contracts.Deferred`.

    ``outcome`` is ``"pending"`` until the worker settles it as
    ``"committed"`` (``event`` is the stored event) or ``"dead_letter"``
    (``error`` is the last error). Times are on the queue's clock:
    ``enqueued_at``, ``settled_at`` and ``delay`` (enqueue to commit).
    :meth:`wait` blocks until the ticket is settled. ``attempts`` counts every
    save attempt made for the write, by whichever worker made it.
    """

    def __init__(
        self,
        actor_id: str,
        event_type: str,
        data: Mapping[str, Any],
        enqueued_at: float,
        settled: Signal,
    ) -> None:
        self.actor_id = actor_id
        self.event_type = event_type
        self.data = data
        self.enqueued_at = enqueued_at
        self.outcome = "pending"
        self.event: Event | None = None
        self.settled_at: float | None = None
        self.attempts = 0
        self.error: BaseException | None = None
        self._settled = settled
        # The event being sent, kept while a send may have landed (a lost reply, an interrupted
        # worker), so that the next attempt re-sends this very event: a no-op if it is stored.
        self._in_hand: Event | None = None

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


def _check_settings(
    max_attempts: object, base_delay: object, max_delay: object, workers: object, name: object
) -> tuple[int, float, float, int, str]:
    """Check a queue's settings and return them normalised; raise naming the bad one."""
    attempts = check_int("max_attempts", max_attempts, 1)
    base = check_seconds("base_delay", base_delay)
    cap = check_seconds("max_delay", max_delay)
    if cap < base:
        raise ValueError(f"max_delay must be >= base_delay ({base!r} s); got {max_delay!r}")
    return attempts, base, cap, check_int("workers", workers, 1), check_text("name", name)


class _Unsaved:
    """The count of a queue's accepted but unsettled writes, shared with its exit check.

    Kept apart from the queue so that the check (a :func:`weakref.finalize`
    callback) can read it without keeping the queue alive.
    """

    __slots__ = ("count", "pid")

    def __init__(self) -> None:
        self.count = 0
        self.pid = os.getpid()


def _warn_unsaved(unsaved: _Unsaved, name: str) -> None:
    """Warn that a queue ended (process exit or garbage collection) with writes never saved."""
    if unsaved.count > 0 and unsaved.pid == os.getpid():  # a forked child did not accept them
        warnings.warn(
            f"retry queue {name!r} ended without close() with {unsaved.count} accepted "
            "write(s) never saved: they are lost, because this queue keeps writes in memory "
            "only (use DurableOutbox for writes that must survive an exit or a crash)",
            RuntimeWarning,
            stacklevel=1,
        )


class WorkerError(NamedTuple):
    """An unexpected error the worker caught at clock time ``time`` (``ticket``: its write)."""

    time: float
    ticket: Ticket | None
    error: BaseException


class RetryQueue:
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
    attempts; after an outage the same event is saved again (a save that did
    land is then a no-op). Any other error dead-letters the write at once and
    is recorded in :attr:`errors`; the worker carries on.

    A worker killed by a :class:`BaseException` (``KeyboardInterrupt``,
    ``SystemExit``, raised inside the store's save) puts the write it was
    holding back at the head of the queue, records the error in
    :attr:`errors` and lets it propagate (on a simulated clock it comes out of
    the call that runs the simulation). A later :meth:`start` saves the write,
    re-sending the very event it had in hand (a no-op if that had landed), so
    nothing is stored twice; another worker, if there are several, takes it at
    once. :meth:`close` turns whatever no worker can save any more into dead
    letters (with the error that killed the worker as the cause) and raises.

    The queue lives in memory: writes not saved when the process exits are
    lost. A queue on a real clock that ends without :meth:`close` (the process
    exits, or the queue is garbage-collected) warns with a
    :class:`RuntimeWarning` naming how many accepted writes were never saved;
    a simulated queue does not (its writes end with the simulation). For
    writes that must survive, use :class:`~aether.patterns.outbox.DurableOutbox`.

    Metrics: :attr:`depth_samples` ``(time, depth)`` at every enqueue and
    dequeue, :attr:`max_depth`, :attr:`delays`, :attr:`committed`,
    :attr:`dead_letters` and :meth:`pending`.
    """

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
    ) -> None:
        check_methods("store", store, ("get_latest_version", "save_event"), "an event store")
        check_methods(
            "clock",
            clock,
            ("now", "sleep", "spawn", "signal"),
            "a clock that can spawn tasks and make signals (RealClock, SimulatedClock)",
        )
        settings = _check_settings(max_attempts, base_delay, max_delay, workers, name)
        self.max_attempts, self.base_delay, self.max_delay, self.workers, name = settings
        self.store = store
        self.clock = clock
        self.name = name
        self.depth_samples: list[tuple[float, int]] = []
        self.delays: list[float] = []
        self.committed = 0
        self.dead_letters: list[Ticket] = []
        self.errors: list[WorkerError] = []
        self._items: collections.deque[Ticket] = collections.deque()
        self._lock = (
            threading.Lock()
        )  # guards _items, _stopping, _halting and the metrics; never held while waiting
        self._work = clock.signal(f"{name}: work")
        self._stopping = False  # no new writes; workers leave once the queue is empty
        self._halting = False  # workers leave after the write in hand, even if writes remain
        self._tasks: list[Task] = []
        self._unsaved = _Unsaved()  # accepted and not settled: queued or in a worker's hand
        if not isinstance(clock, SimulatedClock):
            weakref.finalize(self, _warn_unsaved, self._unsaved, name)

    # -- the caller's side --------------------------------------------------------

    def enqueue(
        self, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None
    ) -> Ticket:
        """Queue one write and return its :class:`Ticket` at once (the write is validated now)."""
        probe = Event(
            actor_id=actor_id, event_type=event_type, version=1, data=data
        )  # validates, freezes data
        ticket = Ticket(
            actor_id,
            event_type,
            probe.data,
            self.clock.now(),
            self.clock.signal(f"ticket {actor_id}"),
        )
        with self._lock:
            if self._stopping:
                raise RuntimeError(
                    f"retry queue {self.name!r} is stopped; it accepts no new writes"
                )
            self._items.append(ticket)
            self._unsaved.count += 1
            self._sample()
        self._work.set()
        return ticket

    def __call__(
        self,
        store: EventStore,
        actor_id: str,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        clock: object = None,
    ) -> Ticket:
        """The pattern signature: enqueue the write (*store* is unused: the worker has its own)."""
        return self.enqueue(actor_id, event_type, data)

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

    # -- starting and stopping ------------------------------------------------------

    def start(self) -> Self:
        """Start the worker task(s); a stopped queue can be started again. Returns the queue."""
        if any(not task.done() for task in self._tasks):
            raise RuntimeError(f"retry queue {self.name!r} is already running")
        with self._lock:
            self._stopping = self._halting = False
        self._tasks = [
            self.clock.spawn(self._run_worker, name=f"{self.name}-worker-{i}")
            for i in range(self.workers)
        ]
        return self

    def stop(self, drain: bool = True, timeout: float | None = None) -> bool:
        """Stop accepting writes and wait (clock time, at most *timeout*) for the workers to leave.

        With ``drain=True`` the workers first save every queued write; with
        ``drain=False`` they leave after the write in hand and the rest stay
        queued for a later :meth:`start`. Returns True once every worker has left.
        """
        check_bool("drain", drain)
        deadline = None if timeout is None else self.clock.now() + check_seconds("timeout", timeout)
        with self._lock:
            self._stopping = True
            self._halting = self._halting or not drain
        self._work.set()
        for task in self._tasks:
            task.join(None if deadline is None else max(0.0, deadline - self.clock.now()))
        return all(task.done() for task in self._tasks)

    def close(self) -> None:
        """Stop with drain and wait; dead-letter writes left unsaved (a worker died), and raise.

        Each write left over becomes a dead letter whose ``error`` is a
        ``RuntimeError`` caused by the error that killed the last worker (if
        any), and ``close`` raises a ``RuntimeError`` naming how many.
        """
        self.stop(drain=True)
        with self._lock:
            left, self._items = list(self._items), collections.deque()
            if left:
                self._sample()
            fatal = self.errors[-1].error if self.errors else None
        if not left:
            return
        for ticket in left:
            error = RuntimeError(f"retry queue {self.name!r} closed before this write was saved")
            error.__cause__ = fatal
            ticket.error = error
            self._settle(ticket, "dead_letter", None)
        raise RuntimeError(
            f"retry queue {self.name!r} closed with {len(left)} write(s) not saved "
            f"(now dead letters); worker errors: {[e.error for e in self.errors]}"
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the worker's side ----------------------------------------------------------

    def _run_worker(self) -> None:
        """Take writes one by one until stopped; if the worker is killed, put its write back."""
        ticket: Ticket | None = None
        try:
            while (ticket := self._next()) is not None:
                try:
                    self._deliver(ticket)
                except Exception as error:  # noqa: BLE001 - dead-letter a bug or a bad write
                    ticket.error = error
                    self._record_error(ticket, error)
                    self._settle(ticket, "dead_letter", None)
        except BaseException as error:  # KeyboardInterrupt, SystemExit...: keep the write, then die
            held = ticket if ticket is not None and ticket.outcome == "pending" else None
            if held is not None:
                held.error = error
                self._put_back(held)
            self._record_error(held, error)
            raise

    def _next(self) -> Ticket | None:
        """The next queued write, waiting for one; ``None`` when the worker should leave."""
        while True:
            with self._lock:
                if self._halting:
                    return None
                if self._items:
                    ticket = self._items.popleft()
                    self._sample()
                    return ticket
                if self._stopping:
                    return None
                self._work.clear()  # under the lock: an enqueue after this check sets it again
            self._work.wait()

    def _deliver(self, ticket: Ticket) -> None:
        """Save one write, retrying with backoff; settle it as committed or dead-lettered."""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.clock.sleep(capped_exponential(self.base_delay, self.max_delay, attempt - 2))
            ticket.attempts += 1
            try:
                if ticket._in_hand is None:
                    ticket._in_hand = next_event(
                        self.store, ticket.actor_id, ticket.event_type, ticket.data
                    )
                self.store.save_event(ticket._in_hand)
            except (VersionConflictError, StoreUnavailableError) as error:
                ticket.error = error
                if isinstance(error, VersionConflictError):
                    ticket._in_hand = None  # stale: read the version again
            else:
                self._settle(ticket, "committed", ticket._in_hand)
                return
        self._settle(ticket, "dead_letter", None)

    def _put_back(self, ticket: Ticket) -> None:
        """Return a write whose worker was killed to the head of the queue, for the next worker."""
        with self._lock:
            self._items.appendleft(ticket)
            self._sample()
        self._work.set()

    def _settle(self, ticket: Ticket, outcome: str, event: Event | None) -> None:
        with self._lock:
            ticket.outcome, ticket.event, ticket.settled_at = outcome, event, self.clock.now()
            ticket._in_hand = None
            self._unsaved.count -= 1
            if outcome == "committed":
                self.committed += 1
                self.delays.append(ticket.settled_at - ticket.enqueued_at)
            else:
                self.dead_letters.append(ticket)
        ticket._settled.set()

    def _sample(self) -> None:
        self.depth_samples.append((self.clock.now(), len(self._items)))

    def _record_error(self, ticket: Ticket | None, error: BaseException) -> None:
        with self._lock:
            self.errors.append(WorkerError(self.clock.now(), ticket, error))

    def __repr__(self) -> str:
        return (
            f"<RetryQueue {self.name!r}: depth {self.depth}, committed {self.committed}, "
            f"dead letters {len(self.dead_letters)}>"
        )


@dataclass(frozen=True)
class QueuedWrites:
    """A :class:`RetryQueue` per run, for :func:`~aether.experiment.run_contention`.

    ``bind`` builds a queue on the run's clock with its own store view (the
    worker's calls are recorded under a negative writer number), starts it,
    and returns it as the writers' pattern; the experiment closes it (drains
    it) after the last writer. :attr:`queues` keeps each run's queue for its
    metrics.
    """

    max_attempts: int = 10
    base_delay: float = 0.010
    max_delay: float = 1.0
    workers: int = 1
    name: str = "queued_writes"
    queues: list[RetryQueue] = field(default_factory=list, compare=False, repr=False)

    def __getstate__(self) -> dict[str, object]:
        """Pickle the settings only: a copy sent to another process has no runs yet."""
        return {**self.__dict__, "queues": []}

    def __post_init__(self) -> None:
        _check_settings(self.max_attempts, self.base_delay, self.max_delay, self.workers, self.name)

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
        )

    def bind(self, ctx: RunContext) -> RetryQueue:
        """The writer callable of one run: a started queue whose worker has its own store view."""
        queue = self.new_queue(ctx.store_for(), ctx.clock).start()
        self.queues.append(queue)
        return queue
