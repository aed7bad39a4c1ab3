"""Retry queue: accept the write now, store it a little later (eventual consistency).

The caller's :meth:`RetryQueue.enqueue` returns a :class:`Ticket` at once; a
background worker takes the queued writes in order and saves each one,
retrying with capped exponential backoff. A write is never dropped: it is
committed, or after ``max_attempts`` moved to :attr:`RetryQueue.dead_letters`
with its last error. Use it when callers must not wait for the store (a web
request that records an audit event); the risk is that "accepted" is not
"stored": readers may not see the write yet, and a backlog grows if writes
arrive faster than the worker can save them, so watch the depth and the delay.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from aether.clock import Signal, Task, TaskClock
from aether.errors import StoreUnavailableError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, capped_exponential, check_count, check_delay, next_event
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
    :meth:`wait` blocks until the ticket is settled.
    """

    def __init__(self, actor_id: str, event_type: str, data: Mapping[str, Any], enqueued_at: float,
                 settled: Signal) -> None:
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

    @property
    def delay(self) -> float | None:
        """Seconds from enqueue to commit, or ``None`` if not committed."""
        if self.outcome != "committed" or self.settled_at is None:
            return None
        return self.settled_at - self.enqueued_at

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (in clock time) until the write is settled or *timeout* passes; return whether it is settled."""
        return self._settled.wait(timeout)

    def __repr__(self) -> str:
        return f"<Ticket {self.actor_id!r} {self.event_type!r}: {self.outcome} after {self.attempts} attempt(s)>"


def _check_settings(max_attempts: int, base_delay: float, max_delay: float, workers: int) -> None:
    """Check a queue's settings; raise naming the bad parameter and value."""
    check_count("max_attempts", max_attempts)
    check_delay("base_delay", base_delay)
    check_delay("max_delay", max_delay)
    if max_delay < base_delay:
        raise ValueError(f"max_delay must be >= base_delay ({base_delay!r} s); got {max_delay!r}")
    check_count("workers", workers)


class WorkerError(NamedTuple):
    """An unexpected error the worker caught at clock time ``time`` (``ticket`` is the write it was on)."""

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

    Metrics: :attr:`depth_samples` ``(time, depth)`` at every enqueue and
    dequeue, :attr:`max_depth`, :attr:`delays`, :attr:`committed` and
    :attr:`dead_letters`.
    """

    def __init__(self, store: EventStore, *, clock: TaskClock = REAL_CLOCK, max_attempts: int = 10,
                 base_delay: float = 0.010, max_delay: float = 1.0, workers: int = 1,
                 name: str = "retry_queue") -> None:
        if not (callable(getattr(clock, "spawn", None)) and callable(getattr(clock, "signal", None))):
            raise TypeError(f"clock must be able to spawn tasks and make signals (RealClock, SimulatedClock); "
                            f"got {clock!r}")
        _check_settings(max_attempts, base_delay, max_delay, workers)
        self.max_attempts, self.workers = max_attempts, workers
        self.base_delay, self.max_delay = float(base_delay), float(max_delay)
        self.store = store
        self.clock = clock
        self.name = name
        self.depth_samples: list[tuple[float, int]] = []
        self.delays: list[float] = []
        self.committed = 0
        self.dead_letters: list[Ticket] = []
        self.errors: list[WorkerError] = []
        self._items: collections.deque[Ticket] = collections.deque()
        self._lock = threading.Lock()  # guards _items, _stopping, _halting and the metrics; never held while waiting
        self._work = clock.signal(f"{name}: work")
        self._stopping = False  # no new writes; workers leave once the queue is empty
        self._halting = False  # workers leave after the write in hand, even if writes remain
        self._tasks: list[Task] = []

    # -- the caller's side --------------------------------------------------------

    def enqueue(self, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None) -> Ticket:
        """Queue one write and return its :class:`Ticket` at once (the write is validated now)."""
        probe = Event(actor_id=actor_id, event_type=event_type, version=1, data=data)  # validates, freezes data
        ticket = Ticket(actor_id, event_type, probe.data, self.clock.now(), self.clock.signal(f"ticket {actor_id}"))
        with self._lock:
            if self._stopping:
                raise RuntimeError(f"retry queue {self.name!r} is stopped; it accepts no new writes")
            self._items.append(ticket)
            self._sample()
        self._work.set()
        return ticket

    def __call__(self, store: EventStore, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None,
                 *, clock: object = None) -> Ticket:
        """The pattern signature: enqueue the write (the worker saves it to its own store; *store* is unused)."""
        return self.enqueue(actor_id, event_type, data)

    @property
    def depth(self) -> int:
        """Writes waiting in the queue (not counting the ones being saved)."""
        return len(self._items)

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
        self._tasks = [self.clock.spawn(self._run_worker, name=f"{self.name}-worker-{i}") for i in range(self.workers)]
        return self

    def stop(self, drain: bool = True, timeout: float | None = None) -> bool:
        """Stop accepting writes and wait (clock time, at most *timeout*) for the workers to leave.

        With ``drain=True`` the workers first save every queued write; with
        ``drain=False`` they leave after the write in hand and the rest stay
        queued for a later :meth:`start`. Returns True once every worker has left.
        """
        with self._lock:
            self._stopping = True
            self._halting = self._halting or not drain
        self._work.set()
        deadline = None if timeout is None else self.clock.now() + check_delay("timeout", timeout)
        for task in self._tasks:
            task.join(None if deadline is None else max(0.0, deadline - self.clock.now()))
        return all(task.done() for task in self._tasks)

    def close(self) -> None:
        """Stop with drain and wait; raise ``RuntimeError`` if a write was left unsaved (a worker died)."""
        self.stop(drain=True)
        if self._items:
            raise RuntimeError(f"retry queue {self.name!r} closed with {len(self._items)} write(s) not saved; "
                               f"worker errors: {[e.error for e in self.errors]}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the worker's side ----------------------------------------------------------

    def _run_worker(self) -> None:
        """Take writes one by one until stopped; record (and re-raise) anything that kills the worker."""
        try:
            while (ticket := self._next()) is not None:
                try:
                    self._deliver(ticket)
                except Exception as error:  # noqa: BLE001 - a bug or a bad write: dead-letter it, keep working
                    ticket.error = error
                    self._record_error(ticket, error)
                    self._settle(ticket, "dead_letter", None)
        except BaseException as error:
            self._record_error(None, error)
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
        event: Event | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.clock.sleep(capped_exponential(self.base_delay, self.max_delay, attempt - 2))
            ticket.attempts = attempt
            try:
                if event is None:
                    event = next_event(self.store, ticket.actor_id, ticket.event_type, ticket.data)
                self.store.save_event(event)
            except (VersionConflictError, StoreUnavailableError) as error:
                ticket.error = error
                if isinstance(error, VersionConflictError):
                    event = None  # stale: read the version again
            else:
                self._settle(ticket, "committed", event)
                return
        self._settle(ticket, "dead_letter", None)

    def _settle(self, ticket: Ticket, outcome: str, event: Event | None) -> None:
        with self._lock:
            ticket.outcome, ticket.event, ticket.settled_at = outcome, event, self.clock.now()
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
        return (f"<RetryQueue {self.name!r}: depth {self.depth}, committed {self.committed}, "
                f"dead letters {len(self.dead_letters)}>")


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

    def __post_init__(self) -> None:
        _check_settings(self.max_attempts, self.base_delay, self.max_delay, self.workers)

    def new_queue(self, store: EventStore, clock: TaskClock) -> RetryQueue:
        """A queue with these settings (not started)."""
        return RetryQueue(store, clock=clock, max_attempts=self.max_attempts, base_delay=self.base_delay,
                          max_delay=self.max_delay, workers=self.workers, name=self.name)

    def bind(self, ctx: RunContext) -> RetryQueue:
        """The writer callable of one run: a started queue whose worker writes through its own store view."""
        queue = self.new_queue(ctx.store_for(), ctx.clock).start()
        self.queues.append(queue)
        return queue
