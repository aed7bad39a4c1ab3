"""The background worker that :class:`~aether.patterns.queue.RetryQueue` and
:class:`~aether.patterns.outbox.DurableOutbox` share: start, take, deliver, stop, close.

Both accept a write at once and deliver it later from a task on their clock
(a thread under :class:`~aether.clock.RealClock`, a simulated task under
:class:`~aether.clock.SimulatedClock`). What differs is where the writes wait
(a deque in memory, a table in a file) and how one is delivered (a subclass's
``_deliver``: both re-make a write's decision on a fresh read before every
delivery attempt, under the write's one key, and settle a refusal as
``"refused"``); everything else is here, written once:

* :meth:`BackgroundWorker.start`, :meth:`~BackgroundWorker.stop` (with or
  without draining, with a timeout) and :meth:`~BackgroundWorker.close`
  (with a timeout: a store that hangs cannot hang the caller's exit);
* the worker loop: wait on the clock's signal for work, take the next write,
  deliver it, record what went wrong as a :class:`WorkerFailure`;
* health: :attr:`~BackgroundWorker.failure` says why the worker is not
  delivering right now (a file it is backing off from, or the error that
  killed it), so a stall is never silent; a dead worker also makes the next
  ``enqueue`` raise.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Self, TypeVar

from aether.checks import check_bool, check_seconds
from aether.clock import Signal, Task, TaskClock
from aether.errors import StoreUnavailableError
from aether.patterns._common import capped_exponential

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BackgroundWorker", "WorkerFailure"]

W = TypeVar("W")


class WorkerFailure(NamedTuple):
    """A record (not an exception) of an error a worker caught, at clock time ``time``.

    ``write`` is the write it was handling (a :class:`~aether.patterns.queue.Ticket`
    for a retry queue, an :class:`~aether.patterns.outbox.OutboxEntry` for an
    outbox), or ``None`` between writes; ``error`` is the exception itself.
    """

    time: float
    write: Any
    error: BaseException


class BackgroundWorker(Generic[W]):
    """The lifecycle of writes delivered in the background: subclass it, do not use it alone.

    A subclass says how to take the next write (:meth:`_take`, called with
    the lock held), how to deliver one (:meth:`_deliver`) and what to do with
    the write in hand when a ``BaseException`` kills the worker
    (:meth:`_killed`); it may also clean up when closing (:meth:`_closed`).
    """

    #: What the subclass is called in messages ("retry queue", "outbox").
    kind = "worker"

    def __init__(
        self, clock: TaskClock, name: str, workers: int, base_delay: float, max_delay: float
    ) -> None:
        self.clock = clock
        self.name = name
        self.workers = workers
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.errors: list[WorkerFailure] = []
        # Guards the subclass's writes, the flags and the metrics; never held while waiting.
        self._lock = threading.Lock()
        self._work: Signal = clock.signal(f"{name}: work")
        self._stopping = False  # no new writes; workers leave once nothing is left
        self._halting = False  # workers leave after the write in hand, even if writes remain
        self._tasks: list[Task] = []
        self._fatal: BaseException | None = None  # what killed the last worker, until start()
        self._trouble: BaseException | None = None  # what the worker is backing off from now

    # -- health ----------------------------------------------------------------------

    @property
    def failure(self) -> BaseException | None:
        """Why writes are not being delivered now: ``None`` while the worker is healthy.

        The error that killed the worker (until the next :meth:`start`), or
        the error it is retrying with backoff right now (a locked or full
        outbox file), cleared by the next success.
        """
        return self._fatal if self._fatal is not None else self._trouble

    @property
    def running(self) -> bool:
        """Whether a worker task is alive (started, and neither left nor killed)."""
        return any(not task.done() for task in self._tasks)

    @property
    def healthy(self) -> bool:
        """Whether the worker is delivering: no :attr:`failure`."""
        return self.failure is None

    # -- starting and stopping ---------------------------------------------------------

    def start(self) -> Self:
        """Start the worker task(s); a stopped one can be started again. Returns ``self``."""
        with self._lock:
            self._check_open()
            if self.running:
                raise RuntimeError(f"{self.kind} {self.name!r} is already running")
            self._stopping = self._halting = False
            self._fatal = self._trouble = None
        self._tasks = [
            self.clock.spawn(self._run_worker, name=self._worker_name(i))
            for i in range(self.workers)
        ]
        return self

    def stop(self, drain: bool = True, timeout: float | None = None) -> bool:
        """Stop accepting writes and wait (clock time, at most *timeout* s) for the workers.

        With ``drain=True`` the workers first deliver every waiting write;
        with ``drain=False`` they leave after the write in hand and the rest
        wait for a later :meth:`start`. Returns True once every worker has left.
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

    def close(self, timeout: float | None = None) -> None:
        """Stop with drain, wait at most *timeout* s (clock time), then close; raise if any is left.

        If the workers have not left after *timeout* (a store that hangs),
        they are told to leave after the write in hand, and ``close`` raises
        :class:`TimeoutError` instead of waiting for ever; what happens to the
        writes not delivered is the subclass's (:meth:`_closed`).
        """
        if timeout is not None:
            timeout = check_seconds("timeout", timeout)
        finished = self.stop(drain=True, timeout=timeout)
        if not finished:
            with self._lock:
                self._halting = True
            self._work.set()
        self._closed(finished)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the caller's side ---------------------------------------------------------------

    def _check_accepting(self) -> None:
        """Refuse a write (call with the lock held) once stopped, or while every worker is dead."""
        self._check_open()
        if self._stopping:
            raise RuntimeError(f"{self.kind} {self.name!r} is stopped; it accepts no new writes")
        if self._fatal is not None and self._tasks and not self.running:
            raise RuntimeError(
                f"{self.kind} {self.name!r} has no running worker: it stopped on "
                f"{type(self._fatal).__name__}: {self._fatal}; call start() to deliver again"
            ) from self._fatal

    def _check_open(self) -> None:
        """Raise if the subclass is closed for good (the outbox's file); nothing by default."""

    # -- the worker's side ---------------------------------------------------------------

    def _run_worker(self) -> None:
        """Take writes one by one until told to leave; record what kills the worker, re-raise it."""
        write: W | None = None
        try:
            while (write := self._next()) is not None:
                try:
                    self._deliver(write)
                except Exception as error:  # noqa: BLE001 - the subclass settles it, or dies
                    self._failed(write, error)
            write = None
        except BaseException as error:
            self._record(self._killed(write, error), error)
            with self._lock:
                self._fatal = error
            raise

    def _next(self) -> W | None:
        """The next write, waiting for one; ``None`` when the worker should leave.

        A :class:`~aether.errors.StoreUnavailableError` while taking it (the
        outbox's file is locked or full) is retried with backoff, and shown
        by :attr:`failure` meanwhile.
        """
        attempt = 0
        while True:
            with self._lock:
                if self._halting:
                    return None
                write = self._take_or_trouble()
                if write is not None:
                    return write
                if self._trouble is None:
                    if self._stopping:
                        return None
                    self._work.clear()  # under the lock: a write accepted after this sets it again
            if self._trouble is not None:
                if attempt == 0:
                    self._record(None, self._trouble)
                self.clock.sleep(self._pause(attempt))
                attempt += 1
            else:
                self._work.wait()

    def _take_or_trouble(self) -> W | None:
        try:
            write = self._take()
        except StoreUnavailableError as error:
            self._trouble = error
            return None
        self._trouble = None
        return write

    def _backoff(self, attempt: int) -> float:
        """The wait before retry number *attempt* + 1 (0-based): capped exponential."""
        return capped_exponential(self.base_delay, self.max_delay, attempt)

    def _pause(self, attempt: int) -> float:
        """The wait before trying a failing file again: the backoff, but never less than 1 ms.

        (A zero ``base_delay`` must not turn a locked file into a busy loop,
        nor stop a simulated clock's time.)
        """
        return max(0.001, self._backoff(attempt))

    def _until_it_works(self, step: Callable[[], Any], write: W | None) -> Any:
        """Run *step*, again after a backoff while it raises StoreUnavailableError.

        The error is shown by :attr:`failure` meanwhile.

        Gives up (re-raising) only once the worker is told to leave at once
        (``close`` timed out): then the write stays where it was.
        """
        attempt = 0
        while True:
            try:
                result = step()
            except StoreUnavailableError as error:
                with self._lock:
                    self._trouble = error
                    halting = self._halting
                if halting:
                    raise
                if attempt == 0:
                    self._record(write, error)
                self.clock.sleep(self._pause(attempt))
                attempt += 1
                continue
            if attempt:
                with self._lock:
                    self._trouble = None
            return result

    def _record(self, write: W | None, error: BaseException) -> None:
        with self._lock:
            self.errors.append(WorkerFailure(self.clock.now(), write, error))

    # -- what a subclass provides ----------------------------------------------------------

    def _worker_name(self, index: int) -> str:
        """The name of worker task number *index* (0-based)."""
        return f"{self.name}-worker-{index}"

    def _take(self) -> W | None:
        """The next write to deliver, taken from the waiting ones; ``None`` if none (lock held)."""
        raise NotImplementedError

    def _deliver(self, write: W) -> None:
        """Deliver one write and settle it."""
        raise NotImplementedError

    def _failed(self, write: W, error: Exception) -> None:
        """An ``Exception`` left :meth:`_deliver`: settle the write, or re-raise it."""
        raise error

    def _killed(self, write: W | None, error: BaseException) -> W | None:
        """A ``BaseException`` killed the worker holding *write*: keep it; return what to record."""
        return write

    def _closed(self, finished: bool) -> None:
        """Finish :meth:`close` (*finished*: whether every worker left in time)."""
