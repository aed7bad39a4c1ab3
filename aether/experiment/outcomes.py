"""One word per result: how a save, a store call and a call at the store are named, decided in one place.

The writer loop (a logical save's ``outcome``), the recorder (a store call's
``result``) and the store's queue (a served call's ``result``) all name an
error with :func:`outcome_of`, so one word means one thing in every table:

======================  ===========================================================
word                    meaning
======================  ===========================================================
``"committed"``         the save's event is stored (a call: ``"ok"``)
``"gave_up"``           the pattern gave up (:class:`~aether.errors.RetriesExhaustedError`,
                        or a retry library's own give-up error)
``"rejected"``          the client refused to try (an open circuit breaker, a throttle)
``"refused"``           the command said no (:class:`~aether.errors.CommandRefusedError`):
                        an answer, not a failure
``"deadline"``          the save's deadline passed (:class:`~aether.errors.DeadlineExceededError`)
``"conflict"``          a version conflict (for a save: one the pattern let through)
``"timeout"``           the caller stopped waiting for the store's reply
``"overloaded"``        the store's full queue refused the call
``"unavailable"``       the store could not be reached or failed the call
``"error"``             any other error (its type is in the saves table's ``error``)
``"dead_letter"``       a deferred save its queue gave up on (a ticket's outcome)
``"queued"``            a deferred save not settled when the run ended
======================  ===========================================================

The store's queue adds two words of its own for calls it served:
``"duplicate"`` (a re-sent write whose event it already held: acknowledged, but
nothing stored) and ``"expired"`` (dropped without service because its caller's
deadline had passed before a server was free).
"""

from __future__ import annotations

from aether.errors import (
    CircuitBreakerOpenError,
    CommandRefusedError,
    DeadlineExceededError,
    RequestThrottledError,
    RetriesExhaustedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.experiment.libraries import is_library_give_up

__all__ = ["CALL_RESULTS", "FAILED_OUTCOMES", "SAVE_OUTCOMES", "STATION_RESULTS", "outcome_of"]

#: Every ``outcome`` a row of the saves table can have.
SAVE_OUTCOMES: tuple[str, ...] = ("committed", "gave_up", "rejected", "refused", "deadline", "conflict", "timeout",
                                  "overloaded", "unavailable", "error", "dead_letter", "queued")
#: Every ``result`` a row of the calls table can have.
CALL_RESULTS: tuple[str, ...] = ("ok", "conflict", "timeout", "overloaded", "unavailable", "error")
#: Every ``result`` a row of the station table can have.
STATION_RESULTS: tuple[str, ...] = ("ok", "duplicate", "conflict", "overloaded", "expired", "unavailable", "error")
#: The outcomes a summary counts as ``failed``: every save that ended without its event, except a refusal.
FAILED_OUTCOMES: frozenset[str] = frozenset(SAVE_OUTCOMES) - {"committed", "refused"}

_ORDER: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (RetriesExhaustedError, "gave_up"),
    (DeadlineExceededError, "deadline"),
    (CommandRefusedError, "refused"),
    ((CircuitBreakerOpenError, RequestThrottledError), "rejected"),
    (VersionConflictError, "conflict"),
    (StoreTimeoutError, "timeout"),  # before StoreUnavailableError, of which it is a kind
    (StoreOverloadedError, "overloaded"),
    (StoreUnavailableError, "unavailable"),
)


def outcome_of(error: BaseException) -> str:
    """The one word for how *error* ended a save or a call (see the table in this module's docstring).

    Use it wherever an error is turned into a table's word, so a save that
    timed out and a call that timed out are both ``"timeout"``.
    """
    for kinds, word in _ORDER:
        if isinstance(error, kinds):
            return word
    if is_library_give_up(error):  # tenacity's RetryError: a retry library gave up
        return "gave_up"
    return "error"
