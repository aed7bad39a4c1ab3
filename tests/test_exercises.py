"""Exercise checks: right, wrong with a hint, never the answer."""

from __future__ import annotations

import pytest

from aether.exercises import Feedback, answer_hash, check, normalise


def reference() -> float:
    return 2.875


def test_a_right_answer_is_right(capsys):
    feedback = check(2.875, reference=reference, name="Exercise 1")
    assert feedback.right and bool(feedback)
    assert capsys.readouterr().out.strip() == "Exercise 1: right."


def test_a_wrong_answer_gets_the_hint_and_not_the_answer(capsys):
    feedback = check(3.5, reference=reference, hint="count reads too", name="Exercise 1")
    out = capsys.readouterr().out
    assert not feedback and feedback.verdict == "wrong"
    assert "count reads too" in out and "2.875" not in out and "2.88" not in out


def test_numbers_match_within_the_tolerance():
    assert check(2.9, reference=reference, tolerance=0.05, show=False)
    assert not check(3.2, reference=reference, tolerance=0.05, show=False)


def test_a_known_mistake_gets_its_own_hint():
    hints = {answer_hash(4): "that is the writes only: add the reads"}
    feedback = check(4, reference=lambda: 7, hints=hints, hint="generic", show=False)
    assert feedback.hint == "that is the writes only: add the reads"


def test_a_stored_hash_checks_without_the_value_in_the_notebook():
    stored = answer_hash(12.3456, digits=1)
    assert check(12.34, expected_hash=stored, digits=1, show=False)
    assert not check(12.5, expected_hash=stored, digits=1, show=False)
    assert "12.3" not in stored


def test_lists_and_dicts_are_compared_item_by_item():
    assert check([1, 2.0], reference=lambda: [1, 2], show=False)
    assert check({"full": 1.5, "equal": 2}, reference=lambda: {"equal": 2.0, "full": 1.5}, show=False)
    assert not check({"full": 1.5}, reference=lambda: {"equal": 2.0, "full": 1.5}, show=False)


def test_no_answer_yet_is_said_as_such():
    assert check(None, reference=reference, show=False).verdict == "not answered"


def test_exactly_one_reference_is_needed():
    with pytest.raises(ValueError, match="exactly one"):
        check(1, show=False)
    with pytest.raises(ValueError, match="exactly one"):
        check(1, reference=reference, expected_hash=answer_hash(1), show=False)
    with pytest.raises(ValueError, match="expected_hash"):
        check(1, expected_hash="1", show=False)


def test_normalise_is_canonical():
    assert normalise(" Full  Jitter ") == "full jitter"
    assert normalise({"b": 1, "a": 2.0}) == normalise({"a": 2, "b": 1.0}) == "{a:2,b:1}"
    assert normalise(1 / 3, digits=2) == "0.33"


def test_feedback_renders_one_line():
    assert str(Feedback("Exercise 2", "wrong", "look at the tail")) == "Exercise 2: not yet. Hint: look at the tail"
    assert Feedback("Exercise 2", "right")._repr_markdown_() == "✓ Exercise 2: right."


def test_with_digits_an_answer_typed_from_a_rounded_figure_matches_the_reference():
    assert check(0.73, reference=lambda: 0.7302, digits=2, show=False)
    assert check(0.7302, reference=lambda: 0.7302, digits=2, show=False)
    assert not check(0.74, reference=lambda: 0.7302, digits=2, show=False)
    assert not check(0.73, reference=lambda: 0.7302, show=False)  # without digits the tolerance decides
