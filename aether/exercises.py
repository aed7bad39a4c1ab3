"""Exercise checks that say right or wrong, and give a hint, without revealing the answer.

An attendee stores an answer (``answer_1 = ...``) and runs a check cell. The
check compares it with a reference that is either

* **computed at run time** by the package (a function that runs the experiment
  the question is about, as each chapter's ``exercise_reference`` in
  :mod:`aether.claims.catalog` does), so no expected value appears in the
  notebook. Use this for every answer a reader could guess: a count, a rate,
  a number with few digits, a choice among a few; or
* **a stored hash** of the expected value (:func:`answer_hash`), only for an
  answer drawn from a space too large to try (a long text, a long list). The
  hash of a short answer gives it away: anyone can hash 0, 1, 2, ... or
  0.01, 0.02, ... and compare (``sha256:d4735e3a...`` is the hash of ``2``).

and prints one :class:`Feedback` line: ``right``, ``wrong`` with a hint, or
``not answered``. Neither the feedback nor an error message contains the
expected value::

    check(answer_1, reference=lambda: mean_calls_per_save(...), tolerance=0.05,
          hint="count reads and writes, and divide by the saves")
    check(answer_2, reference=lambda: exercise_reference(2, runs), digits=0,
          hints={answer_hash(0, digits=0): "max_attempts counts the first attempt: it is at least 1"},
          hint="the smallest limit with no give-up")

Why not otter-grader or nbgrader: both are built for graded coursework, not
for instant feedback in a workshop. nbgrader strips hidden tests from the
student copy and runs them only when the instructor grades a collected
submission, so the attendee learns nothing in the session; its visible
tests are plain asserts with the expected value in them. otter-grader's
``grader.check`` gives instant feedback, but from public test files shipped
beside the notebook, whose expected values an attendee can open, and it
adds a grading toolchain (assign, a tests folder per notebook, its own
metadata cells). Neither computes the reference from the package at run
time, which is what keeps the lab's answers both hidden and in step with
the code.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aether.checks import check_int, check_number, check_text

__all__ = ["Feedback", "answer_hash", "check", "normalise"]

Verdict = Literal["right", "wrong", "not answered"]


@dataclass(frozen=True)
class Feedback:
    """The outcome of one exercise check: a verdict and, when wrong, a hint. Never the answer.

    It shows as one line in a notebook and is truthy when right, so a solution
    cell can ``assert check(...)``.
    """

    name: str
    verdict: Verdict
    hint: str = ""

    @property
    def right(self) -> bool:
        """Whether the answer was right."""
        return self.verdict == "right"

    def __bool__(self) -> bool:
        return self.right

    def __str__(self) -> str:
        if self.verdict == "right":
            return f"{self.name}: right."
        if self.verdict == "not answered":
            return f"{self.name}: not answered yet (store your answer in the variable the question names)."
        return f"{self.name}: not yet. Hint: {self.hint}" if self.hint else f"{self.name}: not yet."

    def _repr_markdown_(self) -> str:
        mark = "✓" if self.right else "✗"
        return f"{mark} {str(self)}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def normalise(value: Any, digits: int | None = None) -> str:
    """The canonical text of an answer that :func:`answer_hash` hashes.

    Numbers are rounded to *digits* decimals (``None``: integers as they are,
    floats to 6 significant digits); text is stripped and lower-cased; lists,
    tuples and dicts are normalised item by item (dict keys sorted).
    """
    if digits is not None:
        digits = check_int("digits", digits, -12, 12)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral) and digits is None:
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if digits is None:
            return f"{number:.6g}"
        rounded = round(number, digits)
        return f"{rounded:.{max(digits, 0)}f}"
    if isinstance(value, str):
        return " ".join(value.strip().lower().split())
    if isinstance(value, Mapping):
        items = sorted((normalise(k, None), normalise(v, digits)) for k, v in value.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(normalise(v, digits) for v in value) + "]"
    raise TypeError(f"an answer must be a number, a text, or a list or dict of them; got {type(value).__name__}")


def answer_hash(value: Any, digits: int | None = None) -> str:
    """``"sha256:<hex>"`` of :func:`normalise` (*value*, *digits*): the key of :func:`check`'s ``hints``.

    Use it to key the hint for a known wrong answer (``hints={answer_hash(0): ...}``).
    As a stored ``expected_hash`` it suits only an answer from a space too large
    to try (a long text): the hash of a count or a rounded number is found by
    hashing candidates until one matches.
    """
    return "sha256:" + hashlib.sha256(normalise(value, digits).encode("utf-8")).hexdigest()


def _close(answer: Any, reference: Any, tolerance: float) -> bool:
    if isinstance(reference, bool) or isinstance(answer, bool):
        return answer is reference or answer == reference
    if isinstance(reference, numbers.Real):
        if not isinstance(answer, numbers.Real):
            return False
        a, r = float(answer), float(reference)
        if math.isinf(r) or math.isinf(a):
            return a == r
        return math.isclose(a, r, rel_tol=tolerance, abs_tol=tolerance if r == 0 else 0.0)
    if isinstance(reference, str):
        return isinstance(answer, str) and normalise(answer) == normalise(reference)
    if isinstance(reference, Mapping):
        return (isinstance(answer, Mapping) and set(map(normalise, answer)) == set(map(normalise, reference))
                and all(_close(answer[k], reference[k], tolerance) for k in reference))
    if isinstance(reference, Sequence):
        return (isinstance(answer, Sequence) and not isinstance(answer, str) and len(answer) == len(reference)
                and all(_close(a, r, tolerance) for a, r in zip(answer, reference, strict=True)))
    return bool(answer == reference)


def check(answer: Any, *, reference: Callable[[], Any] | None = None, expected_hash: str | None = None,
          tolerance: float = 1e-9, digits: int | None = None, hint: str = "",
          hints: Mapping[str, str] | None = None, name: str = "answer",
          diagnose: Callable[[Any, Any], str | None] | None = None, show: bool = True) -> Feedback:
    """Compare an attendee's *answer* with a reference, print right or wrong (and a hint), and return it.

    Give exactly one of:

    * ``reference``: a function of no arguments that computes the expected
      value from the package (it runs here, so the notebook never shows it);
      numbers match within a relative *tolerance*, or, with *digits*, when both
      round to the same value (an answer typed from a printed figure), lists and
      dicts item by item;
    * ``expected_hash``: :func:`answer_hash` of the expected value with the same *digits*;
      only for an answer from a space too large to try, such as a long text. For
      a number or a short answer the hash can be found by trying values, so it
      reveals the answer: compute a ``reference`` instead.

    ``hint`` is shown when the answer is wrong. ``diagnose(answer, expected)``,
    if given, may return a more specific hint for a known mistake (it sees the
    expected value; what it returns must not reveal it). ``hints`` maps the
    :func:`answer_hash` of known wrong answers (with the same *digits*) to a hint
    for each. ``None``
    (not answered yet) gets its own message. ``show=False`` returns the feedback
    without printing it.
    """
    name = check_text("name", name)
    tolerance = check_number("tolerance", tolerance, minimum=0.0)
    if (reference is None) == (expected_hash is None):
        raise ValueError("check needs exactly one of reference= (a function) or expected_hash= (answer_hash(...)); "
                         f"got reference={reference!r}, expected_hash={expected_hash!r}")
    if reference is not None and not callable(reference):
        raise TypeError(f"reference must be a function of no arguments that returns the expected value; "
                        f"got {type(reference).__name__}")
    if expected_hash is not None and (not isinstance(expected_hash, str) or not expected_hash.startswith("sha256:")):
        raise ValueError(f"expected_hash must be 'sha256:<hex>' from answer_hash(); got {expected_hash!r}")
    if answer is None or answer is Ellipsis:
        feedback = Feedback(name, "not answered")
    else:
        try:
            given = answer_hash(answer, digits)
        except TypeError:
            given = None
        if reference is not None:
            expected = reference()
            right = _close(answer, expected, tolerance)
            if not right and digits is not None and given is not None:  # the same figure, rounded to digits
                right = given == answer_hash(expected, digits)
            specific = None if right or diagnose is None else diagnose(answer, expected)
        else:
            right = given == expected_hash
            specific = None
        if not right and hints and given in hints:
            specific = hints[given]
        feedback = Feedback(name, "right" if right else "wrong", "" if right else (specific or hint))
    if show:
        print(feedback)
    return feedback
