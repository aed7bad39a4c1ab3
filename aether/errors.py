"""The errors an event store and the retry patterns raise.

The hierarchy::

    AetherError
    ├── ConflictError  (alias ErrVersionConflict: Go's sentinel, "any version conflict")
    │   └── VersionConflictError  (actor_id, attempted_version, current_version)
    ├── DuplicateEventIdError     (same event id re-used at another actor/version)
    ├── VersionOutOfRangeError    (a store cannot represent the version)
    ├── StoreUnavailableError     (the store could not be reached: outage, fault)
    │   ├── LockTimeoutError      (a database lock was not granted in time)
    │   ├── StoreOverloadedError  (the store's queue was full; the call was refused at once)
    │   └── StoreTimeoutError     (the caller stopped waiting; the call may still commit)
    ├── StoreCorruptedError       (the database file is damaged: not an outage, never retried)
    ├── RetriesExhaustedError     (a retry pattern gave up; ``__cause__`` is the last error)
    ├── DeadlineExceededError     (a save's deadline passed; ``__cause__`` is the last error)
    ├── CommandRefusedError       (the re-made decision said no: a normal outcome, never retried)
    ├── CircuitBreakerOpenError   (a breaker refused the call without trying)
    └── RequestThrottledError     (the client's own throttle refused the attempt without sending it)

Every error here keeps its fields through ``pickle`` and ``copy.deepcopy``, so it
can cross a process boundary (an experiment's worker processes) intact.

:func:`is_version_conflict` and :func:`as_version_conflict` are Go's
``errors.Is`` / ``errors.As``: they look through ``__cause__``,
``__context__`` and exception groups for a conflict wrapped by application code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

__all__ = [
    "AetherError",
    "CircuitBreakerOpenError",
    "CommandRefusedError",
    "DeadlineExceededError",
    "ErrCircuitBreakerOpen",
    "ConflictError",
    "DuplicateEventIdError",
    "ErrVersionConflict",
    "LockTimeoutError",
    "RequestThrottledError",
    "RetriesExhaustedError",
    "StoreCorruptedError",
    "StoreOverloadedError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "VersionConflictError",
    "VersionOutOfRangeError",
    "as_version_conflict",
    "is_version_conflict",
    "iter_exception_chain",
]


class AetherError(Exception):
    """Base class of every error this package raises on purpose.

    An error with fields names them, in constructor order, in ``fields``; that
    one list is how every error here pickles and deep-copies: it is rebuilt by
    calling its class with those fields, and any attribute a subclass adds
    (say a history) travels in its ``__dict__``.
    """

    fields: ClassVar[tuple[str, ...]] = ()

    def __reduce__(self) -> str | tuple[Any, ...]:
        if not self.fields:
            return super().__reduce__()
        return (type(self), tuple(getattr(self, name) for name in self.fields), self.__dict__)


class ConflictError(AetherError):
    """Any optimistic-concurrency conflict: catch this to mean "someone else won".

    It plays the role of Go's sentinel ``ErrVersionConflict`` (also exported
    under that name), so ``except ConflictError`` is ``errors.Is(err,
    ErrVersionConflict)``. Concrete conflicts are :class:`VersionConflictError`.
    """


ErrVersionConflict = ConflictError


class VersionConflictError(ConflictError):
    """A save was rejected because the actor is no longer at the version the writer read.

    Raised by :meth:`EventStore.save_event` when ``event.version`` is not
    ``current_version + 1``. The fields are what a retry pattern decides on:

    * ``actor_id``: whose stream the writer raced on;
    * ``attempted_version``: the version the rejected event carried;
    * ``current_version``: the latest version the store already holds.

    ``current_version + 1`` is the version to try next, and
    ``current_version - (attempted_version - 1)`` is how many commits happened
    since the writer read (see :attr:`distance`).
    """

    fields = ('actor_id', 'attempted_version', 'current_version')
    # In slots, not an attribute dictionary: a contention run raises one per lost write, and a
    # writer keeps its last one while it waits.
    __slots__ = fields

    def __init__(self, actor_id: str, attempted_version: int, current_version: int) -> None:
        # Set args directly instead of through Exception.__init__: a conflict is the commonest
        # error of a contention run, so its construction is on the hot path.
        self.actor_id = actor_id
        self.attempted_version = attempted_version
        self.current_version = current_version
        self.args = (actor_id, attempted_version, current_version)

    @property
    def distance(self) -> int:
        """Commits by others since the writer read: ``current - (attempted - 1)``.

        One competing commit since our read gives 1. A writer that tried a
        version *ahead* of the store (it skipped one) gets a negative distance.
        """
        return self.current_version - (self.attempted_version - 1)

    def __str__(self) -> str:
        return (
            f"version conflict for actor {self.actor_id!r}: attempted version "
            f"{self.attempted_version}, but current version is {self.current_version}"
        )

    def __repr__(self) -> str:
        return (
            f"VersionConflictError(actor_id={self.actor_id!r}, "
            f"attempted_version={self.attempted_version!r}, current_version={self.current_version!r})"
        )


class DuplicateEventIdError(AetherError, ValueError):
    """An event id that is already stored was sent again for another actor or version.

    Re-sending the *same* event (same id, actor and version) is a no-op
    success; re-using its id for anything else is a bug in the caller.
    """

    fields = ('event_id', 'stored_actor_id', 'stored_version', 'actor_id', 'version')

    def __init__(self, event_id: str, stored_actor_id: str, stored_version: int, actor_id: str, version: int) -> None:
        self.event_id = event_id
        self.stored_actor_id = stored_actor_id
        self.stored_version = stored_version
        self.actor_id = actor_id
        self.version = version
        super().__init__(event_id, stored_actor_id, stored_version, actor_id, version)

    def __str__(self) -> str:
        return (
            f"event id {self.event_id!r} is already stored as actor {self.stored_actor_id!r} "
            f"version {self.stored_version}; it cannot be saved again as actor {self.actor_id!r} "
            f"version {self.version}"
        )


class VersionOutOfRangeError(AetherError, ValueError):
    """The store cannot represent this version (SQLite integers stop at 2**63 - 1)."""

    fields = ('actor_id', 'version', 'max_version')

    def __init__(self, actor_id: str, version: int, max_version: int) -> None:
        self.actor_id = actor_id
        self.version = version
        self.max_version = max_version
        super().__init__(actor_id, version, max_version)

    def __str__(self) -> str:
        return (
            f"version {self.version} for actor {self.actor_id!r} is out of range: "
            f"this store holds versions up to {self.max_version}"
        )


class StoreUnavailableError(AetherError):
    """The store could not serve the call (an outage, a fault, a lost connection).

    Unlike a conflict this says nothing about versions: the call may or may not
    have taken effect, so retry only with an idempotent save (the same event).
    """

    fields = ('message',)

    def __init__(self, message: str = "event store unavailable") -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class LockTimeoutError(StoreUnavailableError):
    """A database lock was not granted within the store's busy timeout.

    Not a version conflict: nobody proved the version stale, the database was
    just too busy. Raised ``from`` the driver's own error.
    """


class StoreOverloadedError(StoreUnavailableError):
    """The store refused the call at once because its queue was full (load shedding).

    Nothing was done, so a retry is safe; but a retry is more load on a store
    that just said it has too much. Patterns that retry outages retry this too.
    """


class StoreTimeoutError(StoreUnavailableError):
    """The caller stopped waiting for the store's reply (a client timeout).

    The call itself was not cancelled: it may still run and, for a write,
    commit. Retry a write only by re-sending the *same* event, which the
    store accepts as a no-op if the first send committed.
    """


class StoreCorruptedError(AetherError):
    """The database is damaged or is not an event store (a malformed file, a missing table).

    Not an outage: retrying cannot help, so no pattern retries it, and a
    breaker or a budget does not count it as the store being down. Raised
    ``from`` the driver's own error.
    """

    fields = ('message',)

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class RetriesExhaustedError(AetherError):
    """A retry pattern gave up on a save.

    ``attempts`` is how many saves it tried, ``reason`` says why it stopped, and
    ``__cause__`` is the last error it saw, so :func:`is_version_conflict`
    still finds the conflict that made it give up.
    """

    fields = ('actor_id', 'attempts', 'reason')

    def __init__(self, actor_id: str, attempts: int, reason: str = "retry limit reached") -> None:
        self.actor_id = actor_id
        self.attempts = attempts
        self.reason = reason
        super().__init__(actor_id, attempts, reason)

    def __str__(self) -> str:
        return f"gave up saving for actor {self.actor_id!r} after {self.attempts} attempt(s): {self.reason}"


class DeadlineExceededError(AetherError):
    """A logical save ran out of its deadline before it committed.

    ``deadline`` is the save's whole budget in seconds (on the pattern's
    clock) and ``attempts`` how many attempts it started. Raised ``from`` the
    last error the save met, if any. No attempt starts, and no wait is begun,
    that would end past the deadline.
    """

    fields = ('actor_id', 'deadline', 'attempts')

    def __init__(self, actor_id: str, deadline: float, attempts: int) -> None:
        self.actor_id = actor_id
        self.deadline = deadline
        self.attempts = attempts
        super().__init__(actor_id, deadline, attempts)

    def __str__(self) -> str:
        return (
            f"deadline of {self.deadline:g} s passed for actor {self.actor_id!r} "
            f"after {self.attempts} attempt(s)"
        )


class CommandRefusedError(AetherError):
    """The command's decision, re-made on the actor's current events, refused to append.

    A refusal is a normal outcome, not a failure, and never retried: the state
    says no (the last unit of stock is gone). ``version`` is the actor's
    version the decision saw and ``reason`` an optional text from the caller.
    """

    fields = ('actor_id', 'version', 'reason')

    def __init__(self, actor_id: str, version: int, reason: str = "the decision refused") -> None:
        self.actor_id = actor_id
        self.version = version
        self.reason = reason
        super().__init__(actor_id, version, reason)

    def __str__(self) -> str:
        return f"command refused for actor {self.actor_id!r} at version {self.version}: {self.reason}"


class CircuitBreakerOpenError(AetherError):
    """A circuit breaker is open and refused the call without trying it (Go's ``ErrCircuitBreakerOpen``).

    ``retry_after`` is how many seconds remain until the breaker lets a trial
    call through.
    """

    fields = ('name', 'retry_after')

    def __init__(self, name: str = "breaker", retry_after: float = 0.0) -> None:
        self.name = name
        self.retry_after = retry_after
        super().__init__(name, retry_after)

    def __str__(self) -> str:
        return f"circuit breaker {self.name!r} is open; retry after {self.retry_after:.3f} s"


ErrCircuitBreakerOpen = CircuitBreakerOpenError


class RequestThrottledError(AetherError):
    """The client's adaptive throttle rejected an attempt locally, without sending it to the store.

    ``attempt`` is the attempt it refused (1: the save was never tried).
    Raised ``from`` the last store error, if any.
    """

    fields = ('actor_id', 'attempt')

    def __init__(self, actor_id: str, attempt: int) -> None:
        self.actor_id = actor_id
        self.attempt = attempt
        super().__init__(actor_id, attempt)

    def __str__(self) -> str:
        return f"attempt {self.attempt} for actor {self.actor_id!r} throttled by the client"


def iter_exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """Yield *exc* and every exception it wraps, each once, breadth-first.

    Follows ``__cause__``, ``__context__`` and the members of exception
    groups. Cycles are cut, so a chain that loops back terminates. A context
    hidden with ``raise ... from None`` is not followed: like a traceback, the
    chain then ends where the code said it does (Go's ``%v`` instead of ``%w``).
    """
    if exc is None:
        return
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            queue.extend(current.exceptions)
        if current.__cause__ is not None:
            queue.append(current.__cause__)
        if current.__context__ is not None and not current.__suppress_context__:
            queue.append(current.__context__)


def as_version_conflict(exc: BaseException | None) -> VersionConflictError | None:
    """Return the first :class:`VersionConflictError` in *exc*'s chain, or ``None``.

    Go's ``errors.As``: use it when an application error wraps the conflict
    and you need its fields::

        try:
            place_order(...)
        except OrderFailed as err:
            if (conflict := as_version_conflict(err)) is not None:
                retry_at = conflict.current_version + 1
    """
    for item in iter_exception_chain(exc):
        if isinstance(item, VersionConflictError):
            return item
    return None


def is_version_conflict(exc: BaseException | None) -> bool:
    """True if *exc* is, or wraps, any version conflict (Go's ``errors.Is``).

    Use it where the conflict may arrive wrapped in an application error and
    only the yes/no matters; use :func:`as_version_conflict` to read its fields.
    """
    return any(isinstance(item, ConflictError) for item in iter_exception_chain(exc))
